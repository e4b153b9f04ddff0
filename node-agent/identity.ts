/** The node's identity from registration, persisted so a restarted agent keeps its node id. */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RegisterRequest, type RegisterResponse } from '../protocol/index.js';
import { postJson } from './http-json.js';

export type Identity = Pick<RegisterResponse, 'nodeId' | 'credential' | 'issuer' | 'audience' | 'jwks'>;

/** Shape of stateDir/identity.json (a local file, checked so a hand-edited one fails clearly). */
const IdentityFile = z.object({
  nodeId: z.string().min(1),
  credential: z.string().min(1),
  issuer: z.string(),
  audience: z.string(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
});

const identityPath = (stateDir: string) => join(stateDir, 'identity.json');

export async function loadIdentity(stateDir: string): Promise<Identity | undefined> {
  let text: string;
  try {
    text = await readFile(identityPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = IdentityFile.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(`${identityPath(stateDir)} is not a valid identity (${parsed.error.message}); delete it to register again`);
  }
  return parsed.data;
}

/** Written to a temp file then renamed, so a crash never leaves a half-written identity; 0600 because it holds the credential. */
export async function saveIdentity(stateDir: string, identity: Identity): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${identityPath(stateDir)}.tmp`;
  await writeFile(tmp, JSON.stringify(identity, null, 2), { mode: 0o600 });
  await rename(tmp, identityPath(stateDir));
}

export async function deleteIdentity(stateDir: string): Promise<void> {
  await rm(identityPath(stateDir), { force: true });
}

export async function register(apiUrl: string, joinToken: string, request: RegisterRequest): Promise<RegisterResponse> {
  const body = RegisterRequest.parse(request);
  const res = await postJson<RegisterResponse>(`${apiUrl}/scheduler/v1/nodes/register`, joinToken, body);
  if (typeof res.nodeId !== 'string' || typeof res.credential !== 'string' || !Array.isArray(res.jwks?.keys)) {
    throw new Error(`register answer from ${apiUrl} lacks nodeId, credential or jwks`);
  }
  return res;
}
