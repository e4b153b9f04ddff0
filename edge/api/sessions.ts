import type { IRequest } from 'itty-router';
import { CSRF_HEADER, CreateSession, Recover, SESSION_COOKIE, hashToken, type Session } from '../../protocol/index.js';
import { recoveryCodeHash } from '../catalog/webauthn/recovery-codes.js';
import type { Db } from '../db.js';
import { sessionId } from '../auth.js';
import type { Deps } from '../deps.js';
import { RECOVERY_CODE_GUESSES, recordMiss, retryAfterSql, tooManyAttempts } from '../guess-limit.js';
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
  requireJsonBody(request, 'the token');
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

export interface StartedSession {
  session: Session;
  /** The set-cookie header value for the answer. */
  cookie: string;
}

/**
 * A session that belongs to the user itself (a passkey sign-in, an enrolment, a recovery code):
 * same cookie rules as a token session, ends at sign-out, on expiry or when the user is disabled.
 */
export async function startUserSession(db: Db, userId: string, how: string): Promise<StartedSession> {
  const id = randomId();
  await db.query('DELETE FROM sessions WHERE user_id = $1 AND expires_at <= now()', [userId]);
  const { rows } = await db.query(
    `WITH s AS (INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at)
     SELECT u.id, u.name, u.is_admin, s.expires_at FROM users u, s WHERE u.id = $2`,
    [await hashToken(id), userId, SESSION_SECONDS],
  );
  const row = rows[0];
  await db.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'session.created', $2)`, [userId, JSON.stringify({ via: how })]);
  return {
    session: { user: { id: row.id, name: row.name, isAdmin: row.is_admin }, expiresAt: new Date(row.expires_at).toISOString() },
    cookie: cookie(id, SESSION_SECONDS),
  };
}

/** A JSON content type cannot be sent cross-site without a CORS preflight, which we never grant. */
export function requireJsonBody(request: Request, what: string): void {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    throw new HttpError(415, 'unsupported_media_type', `send ${what} as JSON with content-type: application/json`);
  }
}

/**
 * POST /api/v1/sessions/recover {name, code}: a recovery code instead of a passkey. The code is used
 * up; the session is a normal one (the dashboard then asks for a new passkey at once). A wrong name
 * and a wrong code look alike.
 */
export async function recoverSession(request: IRequest, deps: Deps): Promise<Response> {
  requireJsonBody(request, 'the name and recovery code');
  const { name, code } = await readJson(request, Recover);
  const db = deps.db();
  // Misses count per name typed, known or not (RECOVERY_CODE_GUESSES); once a name used them up even
  // the right code waits for the window, and is not used up meanwhile.
  const { rows } = await db.query(`SELECT id, disabled_at, ${retryAfterSql(RECOVERY_CODE_GUESSES, 1)} AS retry_after FROM users WHERE name = $1`, [name]);
  const user = rows[0];
  if (user?.retry_after) throw tooManyAttempts(RECOVERY_CODE_GUESSES, user.retry_after);
  const used = user
    ? await db.query('UPDATE recovery_codes SET used_at = now() WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL RETURNING 1', [
        await recoveryCodeHash(user.id, code),
        user.id,
      ])
    : { rows: [] };
  if (!used.rows.length) {
    await recordMiss(db, RECOVERY_CODE_GUESSES, name);
    throw new HttpError(401, 'invalid_recovery_code', 'that name and recovery code do not match an unused code; each code works once');
  }
  if (user.disabled_at) throw new HttpError(403, 'user_disabled', `user ${name} is disabled; an admin can enable it again`);
  const { rows: left } = await db.query('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL', [user.id]);
  const started = await startUserSession(db, user.id, 'recovery_code');
  return json({ ...started.session, recoveryCodesLeft: left[0].n }, 201, { 'set-cookie': started.cookie });
}
