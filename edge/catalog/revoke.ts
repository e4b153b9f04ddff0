import type { IRequest } from 'itty-router';
import { hashToken } from '../../protocol/index.js';
import { transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError } from '../http.js';
import { knownClient } from './device.js';
import { oauthEndpoint, oauthJson, readForm, required } from './oauth-http.js';
import { revokeFamily } from './refresh.js';
import { looksLikeJwt, verifyAccessToken } from './verify.js';

/**
 * POST /oauth/revoke {token, token_type_hint?} (RFC 7009): a refresh token or an access token ends
 * its whole sign-in (family). Unknown, spent or already revoked tokens answer 200 too (§2.2): the
 * answer tells a caller nothing about which tokens exist.
 */
export const revoke = oauthEndpoint(async (request: IRequest, deps: Deps) => {
  const form = await readForm(request);
  const presented = required(form, 'token');
  if (form.has('client_id')) knownClient(form.get('client_id'));
  const familyId = await familyOf(deps, presented);
  if (familyId) {
    await transaction(deps.db(), async (tx) => {
      const revoked = await revokeFamily(tx, familyId, 'revoked');
      if (revoked) await tx.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'oauth.revoked', $2)`, [revoked.userId, JSON.stringify({ family: familyId })]);
    });
  }
  return oauthJson({});
});

async function familyOf(deps: Deps, presented: string): Promise<string | null> {
  if (looksLikeJwt(presented)) {
    try {
      // Only a token the catalog signed may revoke anything (an expired one is no proof of holding the sign-in).
      const claims = await verifyAccessToken(deps.env, deps.db(), presented);
      return typeof claims.sid === 'string' ? claims.sid : null;
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) return null;
      throw err;
    }
  }
  const { rows } = await deps.db().query('SELECT family_id FROM oauth_refresh_tokens WHERE token_hash = $1', [await hashToken(presented)]);
  return (rows[0]?.family_id as string | undefined) ?? null;
}
