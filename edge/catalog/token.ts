import type { IRequest } from 'itty-router';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT, hashToken, type TokenAnswer } from '../../protocol/index.js';
import { transaction, type Tx } from '../db.js';
import type { Deps } from '../deps.js';
import { knownClient } from './device.js';
import { OAuthError, oauthEndpoint, oauthJson, readForm, required } from './oauth-http.js';
import { issueTokens, refreshGrant, type RefreshOutcome } from './refresh.js';

/** How much earlier than `interval` a poll may arrive before it counts as too fast (RFC 8628 §3.5). */
const POLL_SLACK_S = 0.5;
const SLOW_DOWN_STEP_S = 5;

/** POST /oauth/token: the device code grant (RFC 8628 §3.4) and the refresh token grant (RFC 6749 §6). */
export const token = oauthEndpoint(async (request: IRequest, deps: Deps) => {
  const form = await readForm(request);
  const grantType = required(form, 'grant_type');
  let outcome: RefreshOutcome;
  if (grantType === DEVICE_CODE_GRANT) {
    const clientId = knownClient(form.get('client_id'));
    const deviceCode = required(form, 'device_code');
    outcome = await transaction(deps.db(), (tx) => deviceGrant(tx, deps, deviceCode, clientId));
  } else if (grantType === REFRESH_TOKEN_GRANT) {
    const clientId = form.has('client_id') ? knownClient(form.get('client_id')) : undefined;
    const refreshToken = required(form, 'refresh_token');
    outcome = await transaction(deps.db(), (tx) => refreshGrant(tx, deps, refreshToken, clientId));
  } else {
    throw new OAuthError('unsupported_grant_type', `grant_type must be ${DEVICE_CODE_GRANT} or ${REFRESH_TOKEN_GRANT}`);
  }
  if ('error' in outcome) throw outcome.error;
  return oauthJson(outcome.tokens satisfies TokenAnswer);
});

/**
 * One poll of a device code. Its answers are errors except the last; the poll time is written even
 * then (hence an outcome instead of a throw, which would roll it back).
 */
async function deviceGrant(tx: Tx, deps: Deps, deviceCode: string, clientId: string): Promise<RefreshOutcome> {
  const { rows } = await tx.query(
    `SELECT id, client_id, client_name, status, user_id, expires_at <= now() AS expired,
            last_polled_at > now() - make_interval(secs => interval_s - $2::float8) AS too_fast
     FROM oauth_device_codes WHERE device_code_hash = $1 FOR UPDATE`,
    [await hashToken(deviceCode), POLL_SLACK_S],
  );
  const row = rows[0];
  const fail = (code: OAuthError['code'], description: string): RefreshOutcome => ({ error: new OAuthError(code, description) });
  if (!row || row.client_id !== clientId) return fail('invalid_grant', 'unknown device code; start again with a new one');
  if (row.status === 'used') return fail('invalid_grant', 'this device code was already exchanged for tokens; start again with a new one');
  if (row.status === 'denied') return fail('access_denied', 'the sign-in was denied in the dashboard');
  if (row.expired) return fail('expired_token', 'the code expired before it was approved; start again with a new one');
  if (row.status === 'approved') {
    await tx.query(`UPDATE oauth_device_codes SET status = 'used', last_polled_at = now() WHERE id = $1`, [row.id]);
    const tokens = await issueTokens(tx, deps, { userId: row.user_id, clientId: row.client_id, clientName: row.client_name });
    return { tokens };
  }
  if (row.too_fast) {
    await tx.query(`UPDATE oauth_device_codes SET interval_s = interval_s + $2, last_polled_at = now() WHERE id = $1`, [row.id, SLOW_DOWN_STEP_S]);
    return fail('slow_down', `polling faster than the interval: wait ${SLOW_DOWN_STEP_S} s longer between polls from now on`);
  }
  await tx.query(`UPDATE oauth_device_codes SET last_polled_at = now() WHERE id = $1`, [row.id]);
  return fail('authorization_pending', 'waiting for a person to approve the code in the dashboard');
}
