import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Env } from '../../env.js';
import { recoveryCodeHash } from './recovery-codes.js';
import { relyingParty } from './relying-party.js';

const env = (PUBLIC_URL: string) => ({ PUBLIC_URL }) as Env;

test('the rpID is the PUBLIC_URL host; a loopback IP becomes localhost (WebAuthn refuses IPs) with both loopback origins allowed', () => {
  assert.deepEqual(relyingParty(env('https://zectre.example.com')), { id: 'zectre.example.com', name: 'Zectre', origins: ['https://zectre.example.com'] });
  assert.deepEqual(relyingParty(env('http://127.0.0.1:8787')).id, 'localhost');
  assert.deepEqual(relyingParty(env('http://127.0.0.1:8787')).origins, ['http://127.0.0.1:8787', 'http://localhost:8787']);
  assert.deepEqual(relyingParty(env('http://localhost:8787/')).origins, ['http://localhost:8787']);
  assert.throws(() => relyingParty(env('')), /PUBLIC_URL/);
});

test('a recovery code is matched regardless of case, spaces and dashes, and only for its own user', async () => {
  const hash = await recoveryCodeHash('u1', 'abcd-efgh-ijkm-npqr');
  assert.equal(await recoveryCodeHash('u1', ' ABCD EFGH ijkm-NPQR '), hash);
  assert.notEqual(await recoveryCodeHash('u2', 'abcd-efgh-ijkm-npqr'), hash);
  assert.notEqual(await recoveryCodeHash('u1', 'abcd-efgh-ijkm-npqs'), hash);
});
