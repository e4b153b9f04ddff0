import type { IRequest } from 'itty-router';
import { z } from 'zod';
import { normalizeUserCode, type DeviceRequestStatus, type DeviceRequestView } from '../../protocol/index.js';
import { text } from '../../protocol/fields.js';
import { requireUser, type User } from '../auth.js';
import { transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { DEVICE_CODE_GUESSES, recordMiss, retryAfterSql, tooManyAttempts } from '../guess-limit.js';
import { HttpError, json, readJson, readQuery } from '../http.js';

/**
 * The dashboard's side of the device grant (contracts-12): a signed-in person looks a user code up,
 * sees what asks, and approves (binding the code to themself) or denies it.
 */

const DeviceDecision = z.object({ userCode: text(64, 1) });
const DeviceQuery = z.object({ user_code: text(64, 1) });

const iso = (v: unknown) => new Date(v as string).toISOString();

/** Approving hands a device a sign-in as this user: a token limited to one project must not do that. */
async function requirePerson(request: Request, deps: Deps): Promise<User> {
  const user = await requireUser(request, deps);
  if (user.tokenProjectId) throw new HttpError(403, 'forbidden', 'a project-scoped token cannot approve device sign-ins; use a global token or the dashboard');
  return user;
}

function parseCode(input: string): string {
  const code = normalizeUserCode(input);
  if (!code) throw new HttpError(400, 'invalid_user_code', 'a user code is 8 letters, shown as XXXX-XXXX (e.g. BCDF-GHJK)');
  return code;
}

const notFound = (code: string) =>
  new HttpError(404, 'device_code_not_found', `no sign-in request with code ${code}; check the code the device shows, or start again there`);

function status(row: { status: string; expired: boolean }): DeviceRequestStatus {
  if (row.status === 'denied') return 'denied';
  if (row.status === 'approved' || row.status === 'used') return 'approved';
  return row.expired ? 'expired' : 'pending';
}

/**
 * A lookup or decision that finds no code, or one that waits for no one and that this user did not
 * decide, counts against DEVICE_CODE_GUESSES: someone trying codes finds no pending sign-in of
 * another person (20^8 codes, ten attempts per ten minutes).
 */
function isGuess(row: { status: string; expired: boolean; user_id: string | null }, userId: string): boolean {
  if (row.user_id === userId) return false;
  return row.status !== 'pending' || row.expired;
}

/** GET /api/v1/device?user_code=XXXX-XXXX */
export async function getDeviceRequest(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requirePerson(request, deps);
  const code = parseCode(readQuery(request, DeviceQuery).user_code);
  const db = deps.db();
  const { rows } = await db.query(
    `SELECT user_code, client_name, created_at, expires_at, status, user_id, expires_at <= now() AS expired,
       ${retryAfterSql(DEVICE_CODE_GUESSES, 2)} AS retry_after
     FROM oauth_device_codes WHERE user_code = $1`,
    [code, user.id],
  );
  const row = rows[0];
  if (row?.retry_after) throw tooManyAttempts(DEVICE_CODE_GUESSES, row.retry_after);
  if (!row || isGuess(row, user.id)) await recordMiss(db, DEVICE_CODE_GUESSES, user.id);
  if (!row) throw notFound(code);
  const view: DeviceRequestView = {
    userCode: row.user_code,
    clientName: row.client_name,
    requestedAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
    status: status(row),
  };
  return json(view);
}

/** POST /api/v1/device/approve {userCode}: the device's next poll gets tokens for this user. */
export async function approveDevice(request: IRequest, deps: Deps): Promise<Response> {
  await decide(request, deps, 'approved');
  return json({ approved: true });
}

/** POST /api/v1/device/deny {userCode}: the device's next poll gets access_denied. */
export async function denyDevice(request: IRequest, deps: Deps): Promise<Response> {
  await decide(request, deps, 'denied');
  return json({ denied: true });
}

async function decide(request: IRequest, deps: Deps, decision: 'approved' | 'denied'): Promise<void> {
  const user = await requirePerson(request, deps);
  const code = parseCode((await readJson(request, DeviceDecision)).userCode);
  const db = deps.db();
  // A miss is answered after the transaction, so that rolling it back does not undo the count.
  const miss = await transaction(db, async (tx): Promise<HttpError | undefined> => {
    const { rows } = await tx.query(
      `SELECT id, client_name, status, user_id, expires_at <= now() AS expired, ${retryAfterSql(DEVICE_CODE_GUESSES, 2)} AS retry_after
       FROM oauth_device_codes WHERE user_code = $1 FOR UPDATE`,
      [code, user.id],
    );
    const row = rows[0];
    if (!row) return notFound(code);
    if (row.retry_after) throw tooManyAttempts(DEVICE_CODE_GUESSES, row.retry_after);
    // Saying the same thing twice (a double click) is not an error; changing one's mind after is.
    if (row.status !== 'pending') {
      const same = status(row) === decision && row.user_id === user.id;
      if (same) return;
      const decided = new HttpError(409, 'device_code_decided', `code ${code} was already ${status(row)}; start again on the device for a new code`);
      if (isGuess(row, user.id)) return decided;
      throw decided;
    }
    if (row.expired) return new HttpError(409, 'device_code_expired', `code ${code} has expired; start again on the device for a new code`);
    await tx.query(`UPDATE oauth_device_codes SET status = $2, user_id = $3, decided_at = now() WHERE id = $1`, [row.id, decision, user.id]);
    await tx.query(`INSERT INTO events (actor, kind, data) VALUES ($1, $2, $3)`, [
      user.id, decision === 'approved' ? 'device.approved' : 'device.denied', JSON.stringify({ clientName: row.client_name }),
    ]);
    return undefined;
  });
  if (miss) {
    await recordMiss(db, DEVICE_CODE_GUESSES, user.id);
    throw miss;
  }
}
