import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';
import { decrypt, encrypt } from '../../protocol/crypto.js';
import type { Db } from '../db.js';
import type { Env } from '../env.js';
import { HttpError } from '../http.js';

/**
 * The catalog's signing keys (sql/migrations/014_catalog_keys.sql): `current` signs, `next` is
 * published ahead of its turn, `retired` stays published until what it signed has expired.
 */

/** The longest lifetime of anything the catalog signs (workload identity tokens: an hour) plus slack. */
export const RETIRED_KEY_PUBLISHED_S = 2 * 3600;
/** An isolate re-reads the key table at most this often; rotation publishes `next` long before it signs. */
const CACHE_MS = 60_000;

interface KeyRow {
  kid: string;
  state: 'next' | 'current' | 'retired';
  public_jwk: JWK;
  private_jwk_enc: string;
}

interface KeySet {
  current: { kid: string; privateKey: CryptoKey | Uint8Array };
  published: JWK[];
  loadedAt: number;
}

// Only a loaded set is shared between requests: workerd forbids awaiting another request's pending I/O.
let cached: KeySet | null = null;

async function newKey(env: Env, state: 'next' | 'current'): Promise<KeyRow> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `ck-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  return { kid, state, public_jwk: publicJwk, private_jwk_enc: await encrypt(env.ENV_ENCRYPTION_KEY, JSON.stringify(privateJwk)) };
}

async function insertKey(db: Db, key: KeyRow): Promise<void> {
  // The partial unique indexes make a concurrent first use harmless: one insert wins, the other is ignored.
  await db.query(
    `INSERT INTO catalog_keys (kid, state, public_jwk, private_jwk_enc, activated_at)
     VALUES ($1, $2, $3, $4, CASE WHEN $2 = 'current' THEN now() END) ON CONFLICT DO NOTHING`,
    [key.kid, key.state, JSON.stringify(key.public_jwk), key.private_jwk_enc],
  );
}

async function readKeys(db: Db): Promise<KeyRow[]> {
  const { rows } = await db.query(
    `SELECT kid, state, public_jwk, private_jwk_enc FROM catalog_keys
     WHERE state <> 'retired' OR retired_at > now() - make_interval(secs => $1) ORDER BY created_at`,
    [RETIRED_KEY_PUBLISHED_S],
  );
  return rows as KeyRow[];
}

/** Creates the first current and next keys on first use, so a fresh install needs no key step. */
async function loadKeys(env: Env, db: Db): Promise<KeySet> {
  let rows = await readKeys(db);
  if (!rows.some((r) => r.state === 'current')) await insertKey(db, await newKey(env, 'current'));
  if (!rows.some((r) => r.state === 'next')) await insertKey(db, await newKey(env, 'next'));
  if (!rows.some((r) => r.state === 'current') || !rows.some((r) => r.state === 'next')) rows = await readKeys(db);
  const current = rows.find((r) => r.state === 'current');
  if (!current) throw new Error('the catalog has no current signing key after creating one');
  let privateJwk: JWK;
  try {
    privateJwk = JSON.parse(await decrypt(env.ENV_ENCRYPTION_KEY, current.private_jwk_enc)) as JWK;
  } catch {
    throw new Error(`catalog key ${current.kid} cannot be decrypted: was ENV_ENCRYPTION_KEY changed without re-encrypting?`);
  }
  return {
    current: { kid: current.kid, privateKey: await importJWK(privateJwk, 'ES256') },
    published: rows.map((r) => r.public_jwk),
    loadedAt: Date.now(),
  };
}

async function keySet(env: Env, db: Db, fresh = false): Promise<KeySet> {
  if (cached && !fresh && Date.now() - cached.loadedAt < CACHE_MS) return cached;
  cached = await loadKeys(env, db);
  return cached;
}

/** The JWKS document: the current, the next and the recently retired public keys. */
export async function publishedJwks(env: Env, db: Db, fresh = false): Promise<{ keys: JWK[] }> {
  return { keys: (await keySet(env, db, fresh)).published };
}

export interface SignOptions {
  subject: string;
  audience: string;
  expiresInS: number;
  /** The JWT `typ` header, so one kind of token can never be replayed as another (RFC 8725 §3.11). */
  type: string;
}

/** Signs claims with the current catalog key: iss, sub, aud, iat, exp and a fresh jti are set here. */
export async function signCatalogJwt(env: Env, db: Db, claims: JWTPayload, opts: SignOptions): Promise<string> {
  const { current } = await keySet(env, db);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: current.kid, typ: opts.type })
    .setIssuer(catalogIssuer(env))
    .setSubject(opts.subject)
    .setAudience(opts.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + opts.expiresInS)
    .setJti(crypto.randomUUID())
    .sign(current.privateKey);
}

/** The `iss` of every catalog token: CATALOG_ISSUER, else the control plane's PUBLIC_URL. */
export function catalogIssuer(env: Env): string {
  const issuer = env.CATALOG_ISSUER?.trim() || env.PUBLIC_URL?.trim().replace(/\/+$/, '');
  // A configuration gap, not a crash: 503 naming the setting, as publicUrl() does.
  if (!issuer) throw new HttpError(503, 'catalog_issuer_not_set', 'the catalog needs an issuer: set PUBLIC_URL (or CATALOG_ISSUER) on the Worker');
  return issuer;
}

/** The audience of the API's access tokens. */
export function apiAudience(env: Env): string {
  return env.CATALOG_API_AUDIENCE?.trim() || 'zectre-api';
}

/**
 * Rotation: next becomes current, current retires (still published), a new next is made. Tokens
 * signed before keep verifying until they expire; verifiers already hold the new current key.
 */
export async function rotateCatalogKeys(env: Env, db: Db): Promise<{ current: string; next: string }> {
  await keySet(env, db, true);
  const upcoming = await newKey(env, 'next');
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT kid FROM catalog_keys WHERE state IN ('current', 'next') FOR UPDATE`);
    await client.query(`UPDATE catalog_keys SET state = 'retired', retired_at = now() WHERE state = 'current'`);
    const promoted = await client.query(
      `UPDATE catalog_keys SET state = 'current', activated_at = now() WHERE state = 'next' RETURNING kid`,
    );
    await client.query(
      `INSERT INTO catalog_keys (kid, state, public_jwk, private_jwk_enc) VALUES ($1, 'next', $2, $3)`,
      [upcoming.kid, JSON.stringify(upcoming.public_jwk), upcoming.private_jwk_enc],
    );
    await client.query('COMMIT');
    cached = null;
    return { current: promoted.rows[0].kid as string, next: upcoming.kid };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
