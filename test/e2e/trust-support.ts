/** Helpers for the suites that probe the Worker's trust boundaries (edge-trust, isolation-matrix). */
import { join } from 'node:path';
import { request } from 'undici';
import type { CreatedJoinToken, Deployment, RegisterResponse } from '../../protocol/index.js';
import { generateToken, hashToken, newId } from '../../protocol/index.js';
import { ROOT } from '../../dev/root.js';
import { waitFor } from '../../dev/processes.js';
import { packDir } from '../../cli/pack.js';
import type { createPool } from '../../sql/connect.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: any;
}

export interface CallOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /** JSON-encoded unless bytes. */
  body?: unknown;
}

/** One HTTP call with undici.request, which (unlike fetch) lets a test send any Host header. */
export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  const bytes = opts.body instanceof Uint8Array;
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': bytes ? 'application/gzip' : 'application/json' } : {}),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : bytes ? (opts.body as Uint8Array) : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, body };
}

/** `call` that must answer `want`; returns the body. */
export async function expectStatus(want: number, base: string, method: string, path: string, opts: CallOptions = {}): Promise<any> {
  const got = await call(base, method, path, opts);
  if (got.status !== want) throw new Error(`${method} ${path} answered ${got.status}, expected ${want}: ${got.text.slice(0, 300)}`);
  return got.body;
}

type Pool = ReturnType<typeof createPool>;

/** A user with a global API token and the given project roles, written to the database (there is no members API yet). */
export async function createUser(pool: Pool, name: string, roles: Record<string, 'viewer' | 'developer' | 'owner'> = {}): Promise<{ id: string; token: string }> {
  const id = newId('u');
  await pool.query('INSERT INTO users (id, name) VALUES ($1, $2)', [id, name]);
  const token = await createApiToken(pool, id);
  for (const [slug, role] of Object.entries(roles)) await addMember(pool, slug, id, role);
  return { id, token };
}

export async function addMember(pool: Pool, slug: string, userId: string, role: string): Promise<void> {
  await pool.query(`INSERT INTO members (project_id, user_id, role) SELECT id, $2, $3 FROM projects WHERE slug = $1`, [slug, userId, role]);
}

/** An API token of `userId`, optionally limited to one project (by name). */
export async function createApiToken(pool: Pool, userId: string, projectSlug?: string): Promise<string> {
  const token = generateToken('zt');
  await pool.query(
    `INSERT INTO api_tokens (id, user_id, name, token_hash, project_id)
     VALUES ($1, $2, 'test', $3, (SELECT id FROM projects WHERE slug = $4))`,
    [newId('k'), userId, await hashToken(token), projectSlug ?? null],
  );
  return token;
}

/** examples/hello packed as the CLI packs it. */
export async function helloArtifact(): Promise<{ bytes: Uint8Array; digest: string }> {
  const packed = await packDir(join(ROOT, 'examples/hello'));
  return { bytes: packed.data, digest: packed.digest };
}

/** Creates `project` (as `token`'s user), uploads the bytes into it and creates a deployment. */
export async function deploy(apiUrl: string, token: string, project: string, artifact: { bytes: Uint8Array }, spec: Record<string, unknown> = {}): Promise<Deployment> {
  await call(apiUrl, 'POST', '/api/v1/projects', { token, body: { name: project } });
  const upload = await call(apiUrl, 'PUT', `/api/v1/projects/${project}/artifacts`, { token, body: artifact.bytes });
  if (upload.status !== 200 && upload.status !== 201) throw new Error(`upload to ${project} answered ${upload.status}: ${upload.text.slice(0, 300)}`);
  const { digest } = upload.body as { digest: string };
  return expectStatus(201, apiUrl, 'POST', `/api/v1/projects/${project}/deployments`, {
    token,
    body: { artifact: digest, command: 'node server.js', ...spec },
  });
}

export async function waitLive(apiUrl: string, token: string, id: string): Promise<Deployment> {
  return waitFor(`deployment ${id} to go live`, async () => {
    const d = (await expectStatus(200, apiUrl, 'GET', `/api/v1/deployments/${id}`, { token })) as Deployment;
    if (d.status === 'failed') throw new Error(`deployment ${id} failed: ${d.statusReason}`);
    return d.status === 'live' && d;
  }, 90_000);
}

/** Registers a node by HTTP alone (no agent behind it); tiny capacity unless given, so nothing is placed on it. */
export async function registerNode(apiUrl: string, joinToken: string, name: string, extra: Record<string, unknown> = {}): Promise<RegisterResponse> {
  return expectStatus(201, apiUrl, 'POST', '/scheduler/v1/nodes/register', {
    token: joinToken,
    body: { name, address: '127.0.0.1', capacity: { cpuMillis: 1, memoryMb: 1 }, portRange: [40000, 40099], ...extra },
  });
}

export async function createJoinToken(apiUrl: string, adminToken: string, body: Record<string, unknown> = {}): Promise<CreatedJoinToken> {
  return expectStatus(201, apiUrl, 'POST', '/api/v1/join-tokens', { token: adminToken, body });
}

/** The claims of a JWT, unverified (the test only reads what was sent). */
export function jwtClaims(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}
