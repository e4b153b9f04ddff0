import { SignJWT, importJWK, type JWK } from 'jose';
import { PUSH_JWT_MAX_AGE_S, type DesiredState } from '../../protocol/index.js';

export const ISSUER = 'zectre-scheduler';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey | Uint8Array;
  publicJwk: JWK;
}

const cache = new Map<string, Promise<SigningKey>>();

/** SCHEDULER_SIGNING_KEY is an ES256 private JWK (JSON) with a `kid`; the public half is the JWKS. */
function signingKey(secret: string): Promise<SigningKey> {
  let k = cache.get(secret);
  if (!k) {
    k = (async () => {
      const jwk = JSON.parse(secret) as JWK;
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) throw new Error('SCHEDULER_SIGNING_KEY must be an ES256 (P-256) private JWK');
      const { d: _d, ...publicJwk } = jwk;
      const kid = jwk.kid ?? 'scheduler';
      return { kid, privateKey: await importJWK(jwk, 'ES256'), publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' } };
    })();
    cache.set(secret, k);
  }
  return k;
}

export async function jwks(secret: string): Promise<{ keys: JWK[] }> {
  return { keys: [(await signingKey(secret)).publicJwk] };
}

export async function signDesiredState(secret: string, desired: DesiredState): Promise<string> {
  const key = await signingKey(secret);
  return new SignJWT({ desired })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience(desired.nodeId)
    .setIssuedAt()
    .setExpirationTime(`${PUSH_JWT_MAX_AGE_S}s`)
    .sign(key.privateKey);
}
