import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { DesiredState } from '../protocol/index.js';
import type { Identity } from './identity.js';
import { MetricsRegistry } from '../protocol/prometheus-text.js';
import { startPushServer, type PushServer } from './push-server.js';
import { verifyPushToken } from './push-token.js';

const ISSUER = 'http://scheduler.test';
const NODE_ID = 'ntest';
let schedulerKey: CryptoKey;
let otherKey: CryptoKey;
let server: PushServer;
const applied: DesiredState[] = [];

before(async () => {
  const scheduler = await generateKeyPair('ES256');
  schedulerKey = scheduler.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  const identity: Identity = {
    nodeId: NODE_ID,
    credential: 'secret',
    issuer: ISSUER,
    audience: NODE_ID,
    jwks: { keys: [{ ...(await exportJWK(scheduler.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] },
  };
  server = await startPushServer('127.0.0.1', 0, new MetricsRegistry(), async (token) => {
    const desired = await verifyPushToken(token, identity);
    applied.push(desired);
    return desired.generation;
  });
});
after(() => server.close());

function sign(key: CryptoKey, claims: { desired: unknown; aud?: string; iatOffsetS?: number }): Promise<string> {
  return new SignJWT({ desired: claims.desired })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(claims.aud ?? NODE_ID)
    .setIssuedAt(Math.floor(Date.now() / 1000) + (claims.iatOffsetS ?? 0))
    .setExpirationTime('60s')
    .sign(key);
}

const desired = (generation: number): DesiredState => ({ nodeId: NODE_ID, generation, tasks: [] });

async function push(body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/desired-state`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await res.json() };
}

test('accepts a push signed by the scheduler key and answers the applied generation', { timeout: 10_000 }, async () => {
  const res = await push({ token: await sign(schedulerKey, { desired: desired(7) }) });
  assert.deepEqual(res, { status: 200, body: { appliedGeneration: 7 } });
  assert.equal(applied.at(-1)?.generation, 7);
});

test('rejects a JWT signed by another key with 401 invalid_push_token', { timeout: 10_000 }, async () => {
  const before = applied.length;
  const res = await push({ token: await sign(otherKey, { desired: desired(8) }) });
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 'invalid_push_token');
  assert.match(res.body.error.message, /signature verification failed/);
  assert.equal(applied.length, before, 'nothing applied');
});

test('rejects a wrong audience, a stale token and an invalid desired claim with 401', { timeout: 10_000 }, async () => {
  for (const token of [
    await sign(schedulerKey, { desired: desired(9), aud: 'nsomeoneelse' }),
    await sign(schedulerKey, { desired: desired(9), iatOffsetS: -120 }),
    await sign(schedulerKey, { desired: { generation: 'nine' } }),
  ]) {
    const res = await push({ token });
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'invalid_push_token');
  }
});

test('a body without a token is a 400; /healthz answers 200', { timeout: 10_000 }, async () => {
  const res = await push({ nope: true });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'invalid_push_body');
  const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  assert.equal(health.status, 200);
});
