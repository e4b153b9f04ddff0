import type { IRequest } from 'itty-router';
import { CreateApiToken, generateToken, hashToken, newId, type ApiTokenView, type CreatedApiToken } from '../../protocol/index.js';
import { requireProject, requireUser, type User } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, iso, json, readJson } from '../http.js';


/** A token limited to one project must not mint or see the user's other tokens. */
function requireUnscoped(user: User): void {
  if (user.tokenProjectId) throw new HttpError(403, 'forbidden', 'a project-scoped token cannot manage API tokens; use a global token');
}

const SELECT = `SELECT t.id, t.name, p.slug, t.created_at, t.last_used_at, t.revoked_at
                FROM api_tokens t LEFT JOIN projects p ON p.id = t.project_id`;

function view(r: Record<string, unknown>): ApiTokenView {
  return {
    id: r.id as string,
    name: r.name as string,
    project: (r.slug as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    lastUsedAt: iso(r.last_used_at),
    revokedAt: iso(r.revoked_at),
  };
}

/** POST /api/v1/tokens: a token of the calling user, global or limited to one project; the secret is shown once. */
export async function createToken(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireUnscoped(user);
  const body = await readJson(request, CreateApiToken);
  const project = body.project ? await requireProject(deps, user, body.project, 'viewer') : null;
  const secret = generateToken('zt');
  const id = newId('k');
  const db = deps.db();
  await db.query(`INSERT INTO api_tokens (id, user_id, name, token_hash, project_id) VALUES ($1, $2, $3, $4, $5)`, [
    id, user.id, body.name, await hashToken(secret), project?.id ?? null,
  ]);
  await db.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'token.created', $3)`, [
    user.id, project?.id ?? null, JSON.stringify({ tokenId: id, name: body.name }),
  ]);
  const { rows } = await db.query(`${SELECT} WHERE t.id = $1`, [id]);
  const answer: CreatedApiToken = { token: view(rows[0]), secret };
  return json(answer, 201);
}

/** GET /api/v1/tokens: the calling user's tokens, newest first, revoked ones included. */
export async function listTokens(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireUnscoped(user);
  const { rows } = await deps.db().query(`${SELECT} WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id`, [user.id]);
  return json({ tokens: rows.map(view) });
}

/** DELETE /api/v1/tokens/:id: revokes one of the calling user's tokens (it stops working at once). */
export async function revokeToken(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireUnscoped(user);
  const id = request.params.id!;
  const db = deps.db();
  const { rowCount } = await db.query(
    'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND user_id = $2',
    [id, user.id],
  );
  if (!rowCount) throw new HttpError(404, 'token_not_found', `you have no API token ${id}`);
  await db.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'token.revoked', $2)`, [user.id, JSON.stringify({ tokenId: id })]);
  const { rows } = await db.query(`${SELECT} WHERE t.id = $1`, [id]);
  return json({ token: view(rows[0]) });
}
