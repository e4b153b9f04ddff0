import type { IRequest } from 'itty-router';
import { CSRF_HEADER, CreateSession, SESSION_COOKIE, hashToken, type Session } from '../../protocol/index.js';
import { sessionId } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';

const SESSION_SECONDS = 7 * 24 * 3600;

/** Path=/api: only API calls carry it. Secure still works on http://localhost (a secure context). */
function cookie(value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/api; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAge}`;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** POST /api/v1/sessions {token}: signs the dashboard in; the token itself is never stored in the browser. */
export async function createSession(request: IRequest, deps: Deps): Promise<Response> {
  // A JSON content type cannot be sent cross-site without a CORS preflight, which we never grant.
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    throw new HttpError(415, 'unsupported_media_type', 'send the token as JSON with content-type: application/json');
  }
  const { token } = await readJson(request, CreateSession);
  const db = deps.db();
  const { rows } = await db.query(
    `SELECT t.id, u.id AS user_id, u.name, u.is_admin FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
    [await hashToken(token)],
  );
  const row = rows[0];
  if (!row) throw new HttpError(401, 'unauthorized', 'invalid or revoked API token');
  const id = randomId();
  await db.query(`DELETE FROM sessions WHERE token_id = $1 AND expires_at <= now()`, [row.id]);
  const created = await db.query(
    `INSERT INTO sessions (id_hash, token_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`,
    [await hashToken(id), row.id, SESSION_SECONDS],
  );
  await db.query(`INSERT INTO events (actor, kind) VALUES ($1, 'session.created')`, [row.user_id]);
  const session: Session = {
    user: { id: row.user_id, name: row.name, isAdmin: row.is_admin },
    expiresAt: new Date(created.rows[0].expires_at).toISOString(),
  };
  return json(session, 201, { 'set-cookie': cookie(id, SESSION_SECONDS) });
}

/** DELETE /api/v1/sessions/current: ends this browser's session and clears its cookie. */
export async function deleteSession(request: IRequest, deps: Deps): Promise<Response> {
  const id = sessionId(request);
  if (!id) throw new HttpError(401, 'unauthorized', 'no dashboard session cookie on this request');
  if (!request.headers.get(CSRF_HEADER)) {
    throw new HttpError(403, 'csrf_header_missing', `send the ${CSRF_HEADER} header to sign out`);
  }
  await deps.db().query('DELETE FROM sessions WHERE id_hash = $1', [await hashToken(id)]);
  return json({ signedOut: true }, 200, { 'set-cookie': cookie('', 0) });
}
