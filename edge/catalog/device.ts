import type { IRequest } from 'itty-router';
import { OAUTH_CLIENTS, generateOAuthSecret, generateUserCode, hashToken, newId, type DeviceAuthorization } from '../../protocol/index.js';
import type { Deps } from '../deps.js';
import { catalogEndpoints } from './discovery.js';
import { catalogIssuer } from './keys.js';
import { OAuthError, oauthEndpoint, oauthJson, readForm } from './oauth-http.js';

/** RFC 8628 §3.2: how long the code may wait for a person, and the least time between polls. */
export const DEVICE_CODE_TTL_S = 600;
export const POLL_INTERVAL_S = 5;
/** Expired requests stay this long, so a late poll still gets `expired_token` rather than `invalid_grant`. */
const KEEP_EXPIRED_S = 3600;
const CLIENT_NAME_MAX = 200;
/** Printable text only: it is shown to the person who approves. */
const CONTROL = /[\0-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNIQUE_VIOLATION = '23505';

/** The client_id must be one the catalog knows (a public client: no secret). */
export function knownClient(clientId: string | undefined): string {
  if (!clientId) throw new OAuthError('invalid_request', 'the client_id parameter is required');
  if (!OAUTH_CLIENTS.includes(clientId)) throw new OAuthError('invalid_client', `unknown client_id; this catalog knows ${OAUTH_CLIENTS.join(', ')}`, 401);
  return clientId;
}

/** POST /oauth/device_authorization {client_id, client_name?}: a device code to poll with and a user code for a person. */
export const deviceAuthorization = oauthEndpoint(async (request: IRequest, deps: Deps) => {
  const form = await readForm(request);
  const clientId = knownClient(form.get('client_id'));
  const clientName = form.get('client_name')?.trim() || null;
  if (clientName && (clientName.length > CLIENT_NAME_MAX || CONTROL.test(clientName) || /[\ud800-\udfff]/.test(clientName))) {
    throw new OAuthError('invalid_request', `client_name must be printable text of at most ${CLIENT_NAME_MAX} characters`);
  }
  const urls = catalogEndpoints(catalogIssuer(deps.env));
  const db = deps.db();
  await db.query(`DELETE FROM oauth_device_codes WHERE expires_at < now() - make_interval(secs => $1)`, [KEEP_EXPIRED_S]);
  const deviceCode = generateOAuthSecret('zd');
  // 20^8 codes: a clash with a live one is rare; a fresh code is drawn when it happens.
  for (let attempt = 1; ; attempt++) {
    const userCode = generateUserCode();
    try {
      await db.query(
        `INSERT INTO oauth_device_codes (id, device_code_hash, user_code, client_id, client_name, interval_s, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
        [newId('k'), await hashToken(deviceCode), userCode, clientId, clientName, POLL_INTERVAL_S, DEVICE_CODE_TTL_S],
      );
      const answer: DeviceAuthorization = {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: urls.verification,
        verification_uri_complete: `${urls.verification}?user_code=${userCode}`,
        expires_in: DEVICE_CODE_TTL_S,
        interval: POLL_INTERVAL_S,
      };
      return oauthJson(answer);
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt === 3) throw err;
    }
  }
});
