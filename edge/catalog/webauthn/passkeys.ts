/** The signed-in user's own passkeys and recovery codes (dashboard, account page). */
import type { IRequest } from 'itty-router';
import type { PasskeyView } from '../../../protocol/index.js';
import { requireUser, type User } from '../../auth.js';
import { transaction } from '../../db.js';
import type { Deps } from '../../deps.js';
import { HttpError, iso, json } from '../../http.js';
import { issueRecoveryCodes } from './recovery-codes.js';


/** Passkeys and recovery codes are the person's own: a token scoped to one project may not touch them. */
async function person(request: IRequest, deps: Deps): Promise<User> {
  const user = await requireUser(request, deps);
  if (user.tokenProjectId) throw new HttpError(403, 'forbidden', 'a project-scoped token cannot manage passkeys; sign in to the dashboard');
  return user;
}

/** GET /api/v1/passkeys */
export async function listPasskeys(request: IRequest, deps: Deps): Promise<Response> {
  const user = await person(request, deps);
  const db = deps.db();
  const { rows } = await db.query('SELECT id, name, created_at, last_used_at, backed_up FROM passkeys WHERE user_id = $1 ORDER BY created_at', [user.id]);
  const { rows: codes } = await db.query('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL', [user.id]);
  const passkeys: PasskeyView[] = rows.map((r) => ({
    id: r.id, name: r.name, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), backedUp: r.backed_up,
  }));
  return json({ passkeys, recoveryCodesLeft: codes[0].n });
}

/** DELETE /api/v1/passkeys/:id: the last passkey may go too (recovery codes and API tokens remain). */
export async function removePasskey(request: IRequest, deps: Deps): Promise<Response> {
  const user = await person(request, deps);
  const { rows } = await deps.db().query('DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name', [request.params.id!, user.id]);
  if (!rows[0]) throw new HttpError(404, 'passkey_not_found', `you have no passkey ${request.params.id}`);
  await deps.db().query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'passkey.removed', $2)`, [user.id, JSON.stringify({ passkey: request.params.id })]);
  return json({ removed: { id: request.params.id, name: rows[0].name } });
}

/** POST /api/v1/recovery-codes: ten new codes, shown once; the old ones stop working. */
export async function renewRecoveryCodes(request: IRequest, deps: Deps): Promise<Response> {
  const user = await person(request, deps);
  const recoveryCodes = await transaction(deps.db(), async (tx) => {
    const codes = await issueRecoveryCodes(tx, user.id);
    await tx.query(`INSERT INTO events (actor, kind) VALUES ($1, 'recovery_codes.renewed')`, [user.id]);
    return codes;
  });
  return json({ recoveryCodes }, 201);
}
