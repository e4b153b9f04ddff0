import type { IRequest } from 'itty-router';
import { DIGEST_PATTERN } from '../../protocol/index.js';
import { requireNode, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError } from '../http.js';

/**
 * GET /registry/v1/blobs/:digest for agents (node credential) and people (API token or session).
 * A node gets a blob only while a task desired running on it belongs to a deployment of that
 * artifact; a person only with viewer on a project that owns it. Anything else is the same 404 as a
 * digest nobody uploaded, so the answer does not tell whether another project has those bytes.
 */
export async function getBlob(request: IRequest, deps: Deps): Promise<Response> {
  const digest = request.params.digest!;
  if (!DIGEST_PATTERN.test(digest)) throw new HttpError(400, 'invalid_digest', `expected sha256:<64 hex digits>, got ${digest.slice(0, 80)}`);
  const notFound = new HttpError(404, 'artifact_not_found', `artifact ${digest.slice(0, 19)}… not found in registry`);
  if (!(await mayRead(request, deps, digest))) throw notFound;
  const blob = await deps.env.ARTIFACTS.get(digest);
  if (!blob) throw notFound;
  // R2's stream type comes from workers-types, Response's from lib.dom: the same object at runtime.
  return new Response(blob.body as unknown as ReadableStream, {
    headers: {
      'content-type': 'application/gzip',
      'content-length': String(blob.size),
      'docker-content-digest': digest,
      'cache-control': 'private, max-age=31536000, immutable',
    },
  });
}

async function mayRead(request: IRequest, deps: Deps, digest: string): Promise<boolean> {
  const db = deps.db();
  if (/^Bearer\s+zn_/i.test(request.headers.get('authorization') ?? '')) {
    const node = await requireNode(request, deps);
    const { rows } = await db.query(
      `SELECT 1 FROM tasks t JOIN deployments d ON d.id = t.deployment_id
       WHERE t.node_id = $1 AND t.desired_state = 'running' AND d.artifact_digest = $2 LIMIT 1`,
      [node.id, digest],
    );
    return rows.length > 0;
  }
  const user = await requireUser(request, deps);
  // The same visibility as requireProject: admins see every project, members theirs, a scoped token one.
  const { rows } = await db.query(
    `SELECT 1 FROM artifact_owners o
     WHERE o.digest = $1 AND ($4::text IS NULL OR o.project_id = $4)
       AND ($3 OR EXISTS (SELECT 1 FROM members m WHERE m.project_id = o.project_id AND m.user_id = $2)) LIMIT 1`,
    [digest, user.id, user.isAdmin, user.tokenProjectId],
  );
  return rows.length > 0;
}
