import { CSRF_HEADER, SESSION_COOKIE, hashToken } from '../protocol/index.js';
import { looksLikeJwt, verifyAccessToken } from './catalog/verify.js';
import type { Deps } from './deps.js';
import { HttpError } from './http.js';

export interface User {
  id: string;
  name: string;
  isAdmin: boolean;
  /** A project-scoped token may only touch that project. */
  tokenProjectId: string | null;
  /** How the caller proved who they are. */
  via: 'api_token' | 'access_token' | 'session';
}

export type Role = 'viewer' | 'developer' | 'owner';
const RANK: Record<Role, number> = { viewer: 1, developer: 2, owner: 3 };

export function bearer(request: Request): string {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new HttpError(401, 'unauthorized', 'missing bearer token: send Authorization: Bearer <token>');
  return match[1]!;
}

export async function requireUser(request: Request, deps: Deps): Promise<User> {
  // A bearer token always wins; the dashboard's session cookie is the fallback.
  const session = request.headers.has('authorization') ? null : sessionId(request);
  if (session) return sessionUser(request, deps, session);
  const token = bearer(request);
  if (looksLikeJwt(token)) return accessTokenUser(deps, token);
  const { rows } = await deps
    .db()
    .query(
      `SELECT u.id, u.name, u.is_admin, u.disabled_at, t.project_id FROM api_tokens t JOIN users u ON u.id = t.user_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [await hashToken(token)],
    );
  const row = rows[0];
  if (!row) throw new HttpError(401, 'unauthorized', 'invalid or revoked API token');
  return enabled(row, 'api_token');
}

/**
 * A catalog access token (JWT): verified against the JWKS; the user must still exist and be enabled,
 * and its sign-in (the refresh family named by `sid`) must not be revoked: one primary-key lookup
 * joined to the user's, so sign-out and refresh-token reuse end access tokens before they expire.
 */
async function accessTokenUser(deps: Deps, token: string): Promise<User> {
  const claims = await verifyAccessToken(deps.env, deps.db(), token);
  if (typeof claims.sid !== 'string') throw new HttpError(401, 'invalid_token', 'the access token names no sign-in (sid); sign in again');
  const { rows } = await deps.db().query(
    `SELECT u.id, u.name, u.is_admin, u.disabled_at, NULL AS project_id, f.user_id AS family_user, f.revoked_at AS family_revoked_at
     FROM users u LEFT JOIN oauth_refresh_families f ON f.id = $2 WHERE u.id = $1`,
    [claims.sub, claims.sid],
  );
  const row = rows[0];
  if (!row) throw new HttpError(401, 'invalid_token', 'the access token names a user that no longer exists');
  if (row.family_user !== row.id || row.family_revoked_at) {
    throw new HttpError(401, 'token_revoked', 'this sign-in was revoked (signed out, or a refresh token was used twice); sign in again with `zectre login`');
  }
  return enabled(row, 'access_token');
}

function enabled(row: { id: string; name: string; is_admin: boolean; disabled_at: unknown; project_id: string | null }, via: User['via']): User {
  if (row.disabled_at) throw new HttpError(403, 'user_disabled', `user ${row.name} is disabled; an admin can enable it again`);
  return { id: row.id, name: row.name, isAdmin: row.is_admin, tokenProjectId: row.project_id, via };
}

/** The dashboard session id from the cookie, if the request carries one. */
export function sessionId(request: Request): string | null {
  const cookies = request.headers.get('cookie') ?? '';
  const match = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]+)`).exec(cookies);
  return match ? match[1]! : null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A session made from an API token acts as that token (same user, same project scope, ends when the
 * token is revoked); a session made by a passkey sign-in acts as its user.
 */
async function sessionUser(request: Request, deps: Deps, id: string): Promise<User> {
  // Browsers attach cookies by themselves; a custom header proves the request came from our own page.
  if (!SAFE_METHODS.has(request.method) && !request.headers.get(CSRF_HEADER)) {
    throw new HttpError(403, 'csrf_header_missing', `cookie-authenticated ${request.method} requests must send the ${CSRF_HEADER} header`);
  }
  const { rows } = await deps.db().query(
    `SELECT u.id, u.name, u.is_admin, u.disabled_at, t.project_id FROM sessions s
     LEFT JOIN api_tokens t ON t.id = s.token_id
     JOIN users u ON u.id = COALESCE(s.user_id, t.user_id)
     WHERE s.id_hash = $1 AND s.expires_at > now() AND (s.token_id IS NULL OR t.revoked_at IS NULL)`,
    [await hashToken(id)],
  );
  const row = rows[0];
  if (!row) throw new HttpError(401, 'session_expired', 'your session has ended or was signed out; sign in again');
  return enabled(row, 'session');
}

export interface ProjectRef {
  id: string;
  slug: string;
  liveDeploymentId: string | null;
  createdAt: string;
}

/** Finds a project by name and checks the user holds at least `role` on it. Unknown and forbidden look alike (404). */
export async function requireProject(deps: Deps, user: User, slug: string, role: Role): Promise<ProjectRef> {
  const { rows } = await deps
    .db()
    .query(
      `SELECT p.id, p.slug, p.live_deployment_id, p.created_at, m.role FROM projects p
       LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2 WHERE p.slug = $1`,
      [slug, user.id],
    );
  const row = rows[0];
  const visible = row && (user.isAdmin || row.role) && (!user.tokenProjectId || user.tokenProjectId === row.id);
  if (!visible) throw new HttpError(404, 'project_not_found', `project ${slug} not found`);
  const held: Role = user.isAdmin ? 'owner' : row.role;
  if (RANK[held] < RANK[role]) {
    throw new HttpError(403, 'forbidden', `this needs the ${role} role on project ${slug}; you are ${held}`);
  }
  return { id: row.id, slug: row.slug, liveDeploymentId: row.live_deployment_id, createdAt: new Date(row.created_at).toISOString() };
}

export interface NodeAuth {
  id: string;
  name: string;
}

/** Agents authenticate with their node credential; `nodeId`, when given, must be theirs. */
export async function requireNode(request: Request, deps: Deps, nodeId?: string): Promise<NodeAuth> {
  const token = bearer(request);
  const { rows } = await deps
    .db()
    .query('SELECT id, name FROM nodes WHERE credential_hash = $1', [await hashToken(token)]);
  const row = rows[0];
  if (!row || (nodeId && row.id !== nodeId)) {
    throw new HttpError(401, 'unknown_node', 'node credential not recognised; register the node again');
  }
  return { id: row.id, name: row.name };
}
