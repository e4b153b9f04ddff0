import { generateOAuthSecret, hashToken, newId, type AccessTokenRoles, type TokenAnswer } from '../../protocol/index.js';
import type { Deps } from '../deps.js';
import type { Tx } from '../db.js';
import { apiAudience, signCatalogJwt } from './keys.js';
import { OAuthError } from './oauth-http.js';

/** Access tokens are short: revocation reaches them through `sid` anyway, expiry bounds a leaked one. */
export const ACCESS_TOKEN_S = 15 * 60;
/** A refresh token unused this long expires; each use starts a fresh one (a sliding window). */
export const REFRESH_TOKEN_S = 30 * 24 * 3600;

export interface Grant {
  userId: string;
  clientId: string;
  clientName: string | null;
  /** The family to rotate within; a new sign-in starts one. */
  familyId?: string;
}

/**
 * Inside the caller's transaction: a refresh token (stored hashed) in the grant's family and an
 * ES256 access token naming the user's roles and the family as `sid`. A disabled user gets nothing.
 */
export async function issueTokens(tx: Tx, deps: Deps, grant: Grant): Promise<TokenAnswer> {
  const { rows } = await tx.query('SELECT id, name, is_admin, disabled_at FROM users WHERE id = $1', [grant.userId]);
  const user = rows[0];
  if (!user) throw new OAuthError('invalid_grant', 'the user this grant was made for no longer exists');
  if (user.disabled_at) throw new OAuthError('invalid_grant', `user ${user.name} is disabled; an admin can enable it again`);
  const members = await tx.query(
    `SELECT p.slug, m.role FROM members m JOIN projects p ON p.id = m.project_id WHERE m.user_id = $1 ORDER BY p.slug`,
    [grant.userId],
  );
  const roles: AccessTokenRoles = { admin: user.is_admin, projects: Object.fromEntries(members.rows.map((r) => [r.slug, r.role])) };
  let familyId = grant.familyId;
  if (!familyId) {
    familyId = newId('k', 16);
    await tx.query(`INSERT INTO oauth_refresh_families (id, user_id, client_id, client_name) VALUES ($1, $2, $3, $4)`, [
      familyId, grant.userId, grant.clientId, grant.clientName,
    ]);
  }
  const refreshToken = generateOAuthSecret('zr');
  await tx.query(
    `INSERT INTO oauth_refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`,
    [await hashToken(refreshToken), familyId, REFRESH_TOKEN_S],
  );
  // Signed before the commit: a signing failure must not leave the client's refresh token spent.
  const accessToken = await signCatalogJwt(
    deps.env,
    deps.db(),
    { roles, sid: familyId, client_id: grant.clientId },
    { subject: grant.userId, audience: apiAudience(deps.env), expiresInS: ACCESS_TOKEN_S, type: 'at+jwt' },
  );
  return { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_S, refresh_token: refreshToken };
}

/** Refresh grant outcome: tokens, or an error to answer after the transaction committed (a reuse revokes first). */
export type RefreshOutcome = { tokens: TokenAnswer } | { error: OAuthError };

/**
 * RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14.2): every use spends the token and hands
 * out a new one in the same family; a spent token presented again means two parties hold the
 * family, so the whole family is revoked (the thief's and the owner's tokens alike).
 */
export async function refreshGrant(tx: Tx, deps: Deps, refreshToken: string, clientId: string | undefined): Promise<RefreshOutcome> {
  const hash = await hashToken(refreshToken);
  const { rows } = await tx.query(
    `SELECT t.family_id, t.used_at, t.expires_at <= now() AS expired, f.user_id, f.client_id, f.client_name, f.revoked_at
     FROM oauth_refresh_tokens t JOIN oauth_refresh_families f ON f.id = t.family_id
     WHERE t.token_hash = $1 FOR UPDATE OF t, f`,
    [hash],
  );
  const row = rows[0];
  const fail = (description: string): RefreshOutcome => ({ error: new OAuthError('invalid_grant', description) });
  if (!row) return fail('unknown refresh token; sign in again (zectre login)');
  if (row.revoked_at) return fail('this sign-in was revoked (signed out, or its refresh token was used twice); sign in again');
  if (clientId !== undefined && clientId !== row.client_id) return fail('this refresh token was issued to another client');
  if (row.used_at) {
    await tx.query(`UPDATE oauth_refresh_families SET revoked_at = now(), revoked_reason = 'reuse' WHERE id = $1`, [row.family_id]);
    await tx.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'oauth.refresh_reused', $2)`, [
      row.user_id, JSON.stringify({ family: row.family_id, clientName: row.client_name }),
    ]);
    return fail('this refresh token was already used, so it may have been copied: the whole sign-in is revoked; sign in again');
  }
  if (row.expired) return fail('the refresh token has expired; sign in again');
  await tx.query('UPDATE oauth_refresh_tokens SET used_at = now() WHERE token_hash = $1', [hash]);
  // Spent tokens are kept (reuse detection) until they would have expired anyway.
  await tx.query('DELETE FROM oauth_refresh_tokens WHERE family_id = $1 AND expires_at < now()', [row.family_id]);
  const tokens = await issueTokens(tx, deps, { userId: row.user_id, clientId: row.client_id, clientName: row.client_name, familyId: row.family_id });
  return { tokens };
}

/** Ends a sign-in: every refresh token of the family and every access token naming it as `sid`. */
export async function revokeFamily(tx: Tx, familyId: string, reason: string): Promise<{ userId: string } | null> {
  const { rows } = await tx.query(
    `UPDATE oauth_refresh_families SET revoked_at = coalesce(revoked_at, now()), revoked_reason = coalesce(revoked_reason, $2)
     WHERE id = $1 RETURNING user_id`,
    [familyId, reason],
  );
  return rows[0] ? { userId: rows[0].user_id as string } : null;
}
