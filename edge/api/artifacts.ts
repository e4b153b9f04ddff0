import type { IRequest } from 'itty-router';
import { DIGEST_PATTERN, type Artifact } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readLimited } from '../http.js';

const DEFAULT_MAX = 100 * 1024 * 1024;

/** The largest artifact this API takes (MAX_ARTIFACT_BYTES); GET of a project tells the CLI, which checks before uploading. */
export function maxArtifactBytes(env: Deps['env']): number {
  return Number(env.MAX_ARTIFACT_BYTES) || DEFAULT_MAX;
}

/**
 * PUT /api/v1/projects/:project/artifacts (developer): the server computes the digest; a declared
 * X-Zectre-Digest must match it. The project owns the artifact from now on; bytes another project
 * uploaded before are stored once and gain this project as an owner (having the bytes is the proof).
 */
export async function putArtifact(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const declared = request.headers.get('x-zectre-digest');
  if (declared !== null && !DIGEST_PATTERN.test(declared)) {
    throw new HttpError(400, 'invalid_digest', `X-Zectre-Digest must be sha256:<64 lowercase hex digits>, got ${declared.slice(0, 80)}`);
  }
  const bytes = await readLimited(request, maxArtifactBytes(deps.env));
  if (bytes.byteLength < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new HttpError(400, 'invalid_artifact', 'an artifact must be a gzip-compressed tar archive (.tar.gz)');
  }
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const digest = `sha256:${[...hash].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  if (declared && declared !== digest) {
    throw new HttpError(400, 'digest_mismatch', `declared ${declared} but the uploaded bytes hash to ${digest}`, { declared, actual: digest });
  }
  const db = deps.db();
  const known = await db.query('SELECT 1 FROM artifacts WHERE digest = $1', [digest]);
  if (!known.rows[0]) {
    // Blob first, row second: a row always points at a stored blob.
    await deps.env.ARTIFACTS.put(digest, bytes, { sha256: digest.slice(7) });
    await db.query('INSERT INTO artifacts (digest, size, created_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      digest, bytes.byteLength, user.id,
    ]);
  }
  await db.query('INSERT INTO artifact_owners (project_id, digest, created_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    project.id, digest, user.id,
  ]);
  return json({ digest, size: bytes.byteLength } satisfies Artifact, known.rows[0] ? 200 : 201);
}

/** True when the project owns the artifact; other projects' artifacts look like missing ones. */
export async function projectOwnsArtifact(deps: Deps, projectId: string, digest: string): Promise<boolean> {
  const { rows } = await deps.db().query('SELECT 1 FROM artifact_owners WHERE project_id = $1 AND digest = $2', [projectId, digest]);
  return rows.length > 0;
}

/**
 * GET /api/v1/projects/:project/artifacts/:digest (viewer): 200 with the artifact when this project
 * owns it, so `zectre deploy` skips uploading unchanged bytes. Bytes only other projects uploaded
 * answer the same 404 as bytes nobody uploaded: the answer says nothing about other projects.
 */
export async function getArtifact(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const digest = request.params.digest!;
  if (!DIGEST_PATTERN.test(digest)) throw new HttpError(400, 'invalid_digest', `expected sha256:<64 lowercase hex digits>, got ${digest.slice(0, 80)}`);
  const { rows } = await deps.db().query(
    'SELECT a.size FROM artifact_owners o JOIN artifacts a ON a.digest = o.digest WHERE o.project_id = $1 AND o.digest = $2',
    [project.id, digest],
  );
  if (!rows[0]) throw new HttpError(404, 'artifact_not_found', `artifact ${digest.slice(0, 19)}… not found in the registry of ${project.slug}`);
  return json({ digest, size: Number(rows[0].size) } satisfies Artifact);
}
