import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Db } from '../db.js';
import type { Env } from '../env.js';
import { HttpError } from '../http.js';
import { apiAudience, catalogIssuer, publishedJwks } from './keys.js';

/**
 * The API's side of the catalog: it trusts access tokens through the published JWKS, as a separate
 * service would, never through the signing keys. The key set is cached; an unknown `kid` refreshes
 * it, at most REFRESH_BURST times per REFRESH_WINDOW_MS, so random kids cannot turn into a database
 * read each, while two rotations in quick succession (each kid new here) still both get through.
 */
const REFRESH_WINDOW_MS = 10_000;
const REFRESH_BURST = 3;
let forcedRefreshes: number[] = [];
/**
 * Without an unknown kid the set is still re-read this often, so a key that left the JWKS (retired
 * long enough ago, or removed after a compromise) stops verifying here too, as with jose's remote set.
 */
const MAX_AGE_MS = 5 * 60_000;
let local: { getKey: JWTVerifyGetKey; refreshedAt: number } | null = null;
let remote: { url: string; getKey: JWTVerifyGetKey } | null = null;

async function keyResolver(env: Env, db: Db, refresh: boolean): Promise<JWTVerifyGetKey | null> {
  if (env.CATALOG_JWKS_URL) {
    // jose's remote set caches and refetches on an unknown kid by itself (with its own cooldown).
    if (remote?.url !== env.CATALOG_JWKS_URL) remote = { url: env.CATALOG_JWKS_URL, getKey: createRemoteJWKSet(new URL(env.CATALOG_JWKS_URL)) };
    return refresh ? null : remote.getKey;
  }
  if (local && !refresh && Date.now() - local.refreshedAt < MAX_AGE_MS) return local.getKey;
  if (local && refresh) {
    const now = Date.now();
    forcedRefreshes = forcedRefreshes.filter((at) => now - at < REFRESH_WINDOW_MS);
    if (forcedRefreshes.length >= REFRESH_BURST) return null;
    forcedRefreshes.push(now);
  }
  local = { getKey: createLocalJWKSet(await publishedJwks(env, db, true)), refreshedAt: Date.now() };
  return local.getKey;
}

/**
 * A CLI sends the same access token for 15 minutes: a verified token is remembered (signature and
 * claims only; the caller still reads the user and the sign-in's revocation on every request) until
 * its exp, and no longer than the key set is cached, so a key taken out of the JWKS stops verifying
 * here as soon as it would anyway. An ES256 verification is the costliest step of a request's auth.
 */
const VERIFIED_MAX = 1024;
const verified = new Map<string, { claims: JWTPayload & { sub: string }; until: number }>();

function remember(key: string, claims: JWTPayload & { sub: string }): void {
  const until = Math.min((claims.exp ?? 0) * 1000, Date.now() + MAX_AGE_MS);
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(key, { claims, until });
}

/** A JWT has three base64url parts (the last empty for `alg: none`, refused as such); API tokens (zt_…) never do. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** Verifies a catalog access token (ES256, our issuer, the API audience, typ at+jwt) and returns its claims. */
export async function verifyAccessToken(env: Env, db: Db, token: string): Promise<JWTPayload & { sub: string }> {
  return verifyCatalogJwt(env, db, token, { audience: apiAudience(env), type: 'at+jwt' });
}

async function verifyCatalogJwt(
  env: Env,
  db: Db,
  token: string,
  expect: { audience: string; type: string },
): Promise<JWTPayload & { sub: string }> {
  const options = {
    algorithms: ['ES256'],
    issuer: catalogIssuer(env),
    audience: expect.audience,
    typ: expect.type,
    clockTolerance: 5,
    // jose checks exp only when present: a token without one must not live forever.
    requiredClaims: ['exp', 'iat', 'sub'],
  };
  const cacheKey = `${expect.type} ${expect.audience} ${token}`;
  const seen = verified.get(cacheKey);
  if (seen && seen.until > Date.now()) return seen.claims;
  for (const refresh of [false, true]) {
    const getKey = await keyResolver(env, db, refresh);
    if (!getKey) break;
    try {
      const { payload } = await jwtVerify(token, getKey, options);
      if (typeof payload.sub !== 'string') throw new HttpError(401, 'invalid_token', 'the access token names no subject');
      remember(cacheKey, payload as JWTPayload & { sub: string });
      return payload as JWTPayload & { sub: string };
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey && !refresh) continue;
      throw refusal(err);
    }
  }
  throw new HttpError(401, 'invalid_token', 'the access token was signed by a key the catalog does not publish');
}

function refusal(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof errors.JWTExpired) return new HttpError(401, 'token_expired', 'the access token has expired; refresh it (zectre does so by itself) or sign in again');
  if (err instanceof errors.JWTClaimValidationFailed) {
    return new HttpError(401, 'invalid_token', `the access token's ${err.claim} claim is not accepted here`);
  }
  if (err instanceof errors.JWKSNoMatchingKey) return new HttpError(401, 'invalid_token', 'the access token was signed by a key the catalog does not publish');
  if (err instanceof errors.JOSEAlgNotAllowed) return new HttpError(401, 'invalid_token', 'the access token must be signed with ES256');
  return new HttpError(401, 'invalid_token', 'the access token is not a valid catalog token');
}
