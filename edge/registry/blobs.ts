import type { IRequest } from 'itty-router';
import { DIGEST_PATTERN } from '../../protocol/index.js';
import { requireNode, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError } from '../http.js';

/** GET /registry/v1/blobs/:digest for agents (node credential) and people (API token). */
export async function getBlob(request: IRequest, deps: Deps): Promise<Response> {
  const digest = request.params.digest!;
  if (!DIGEST_PATTERN.test(digest)) throw new HttpError(400, 'invalid_digest', `expected sha256:<64 hex digits>, got ${digest.slice(0, 80)}`);
  await authenticate(request, deps);
  const blob = await deps.env.ARTIFACTS.get(digest);
  if (!blob) throw new HttpError(404, 'artifact_not_found', `artifact ${digest.slice(0, 19)}… not found in registry`);
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

async function authenticate(request: IRequest, deps: Deps): Promise<void> {
  const token = request.headers.get('authorization') ?? '';
  if (/^Bearer\s+zn_/i.test(token)) await requireNode(request, deps);
  else await requireUser(request, deps);
}
