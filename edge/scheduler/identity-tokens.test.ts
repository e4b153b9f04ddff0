import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Env } from '../env.js';
import { identityAudience, identityTokenTtlS } from './identity-tokens.js';

const env = { PUBLIC_URL: 'https://zectre.example.com/' } as Env;

test('the audience is the release env var ZECTRE_IDENTITY_AUDIENCE, else <issuer>/workload', () => {
  assert.equal(identityAudience(env, {}), 'https://zectre.example.com/workload');
  assert.equal(identityAudience(env, { ZECTRE_IDENTITY_AUDIENCE: '  ' }), 'https://zectre.example.com/workload');
  assert.equal(identityAudience({ ...env, CATALOG_ISSUER: 'https://id.example.com' }, {}), 'https://id.example.com/workload');
  assert.equal(identityAudience(env, { ZECTRE_IDENTITY_AUDIENCE: ' https://billing.internal ' }), 'https://billing.internal');
  assert.deepEqual(identityAudience(env, { ZECTRE_IDENTITY_AUDIENCE: 'a, b,,c' }), ['a', 'b', 'c']);
});

test("an identity token never carries the API's audience, nor an unbounded list", () => {
  assert.throws(() => identityAudience(env, { ZECTRE_IDENTITY_AUDIENCE: 'billing, zectre-api' }), /must not name the API's audience \(zectre-api\)/);
  assert.throws(() => identityAudience({ ...env, CATALOG_API_AUDIENCE: 'api' }, { ZECTRE_IDENTITY_AUDIENCE: 'api' }), /API's audience \(api\)/);
  assert.throws(() => identityAudience(env, { ZECTRE_IDENTITY_AUDIENCE: Array.from({ length: 11 }, (_, i) => `a${i}`).join(',') }), /at most 10/);
  assert.throws(() => identityAudience(env, { ZECTRE_IDENTITY_AUDIENCE: 'x'.repeat(513) }), /at most 512 characters/);
});

test('the lifetime is an hour unless IDENTITY_TOKEN_TTL_S shortens it, never below 10 s', () => {
  assert.equal(identityTokenTtlS({} as Env), 3600);
  assert.equal(identityTokenTtlS({ IDENTITY_TOKEN_TTL_S: '20' } as Env), 20);
  assert.equal(identityTokenTtlS({ IDENTITY_TOKEN_TTL_S: '1' } as Env), 10);
  assert.equal(identityTokenTtlS({ IDENTITY_TOKEN_TTL_S: '86400' } as Env), 3600);
  assert.equal(identityTokenTtlS({ IDENTITY_TOKEN_TTL_S: 'soon' } as Env), 3600);
});
