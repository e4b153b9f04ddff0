/**
 * Guessing short-lived secrets is limited (edge/guess-limit.ts): device user codes per signed-in
 * user (10 misses per 10 minutes), recovery codes per target name (5 per 15 minutes). Once limited,
 * a right guess is refused too. A real Worker in workerd on a real PostgreSQL; "the window passed"
 * is made by moving the window's end in the database, not by waiting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { USER_CODE_ALPHABET } from '../../protocol/index.js';
import { startCatalogStack, startDevice, type CatalogStack } from './catalog-support.js';
import { call, createUser, expectStatus, type Answer } from './trust-support.js';

/** The n-th code of the alphabet's first letters: distinct, well-formed, and (checked) not issued. */
function madeUpCode(n: number): string {
  const a = USER_CODE_ALPHABET;
  const letters = Array.from({ length: 8 }, (_, i) => a[Math.floor(n / a.length ** i) % a.length]).join('');
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

function assertLimited(answer: Answer, windowS: number): void {
  assert.equal(answer.status, 429, answer.text);
  assert.equal(answer.body.error.code, 'too_many_attempts');
  assert.match(answer.body.error.message, /try again in \d+ (seconds|minutes)/);
  const retryAfter = Number(answer.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowS, `Retry-After ${answer.headers['retry-after']}`);
}

describe('guess limits: device user codes and recovery codes', { timeout: 300_000 }, () => {
  let stack: CatalogStack;

  before(async () => {
    stack = await startCatalogStack('guesslimits');
  });
  after(async () => {
    await stack?.stop();
  });

  const endWindow = (scope: string, key: string) =>
    stack.pool.query(`UPDATE guess_misses SET reset_at = now() - interval '1 second' WHERE scope = $1 AND key = $2`, [scope, key]);

  test('device codes: 10 misses, then even a real pending code is 429 for that user only, until the window passes', async () => {
    const erin = await createUser(stack.pool, 'erin');
    const eve = await createUser(stack.pool, 'eve');
    const frank = await createUser(stack.pool, 'frank');
    const pending = (await startDevice(stack.url)).body.user_code;
    const issued = new Set((await stack.pool.query('SELECT user_code FROM oauth_device_codes')).rows.map((r) => r.user_code));
    const guesses = Array.from({ length: 40 }, (_, i) => madeUpCode(i * 7919 + 1)).filter((c) => !issued.has(c));

    // Lookups, approvals and denials of codes nobody requested all count: ten answered 404.
    for (let i = 0; i < 10; i++) {
      const code = guesses[i]!;
      const answer =
        i % 3 === 0 ? await call(stack.url, 'GET', `/api/v1/device?user_code=${code}`, { token: eve.token })
        : i % 3 === 1 ? await call(stack.url, 'POST', '/api/v1/device/approve', { token: eve.token, body: { userCode: code } })
        : await call(stack.url, 'POST', '/api/v1/device/deny', { token: eve.token, body: { userCode: code } });
      assert.equal(answer.status, 404, `miss ${i + 1}: ${answer.text}`);
    }
    // The 11th: refused whatever the code, a real pending one included, and nothing is approved.
    assertLimited(await call(stack.url, 'GET', `/api/v1/device?user_code=${guesses[10]}`, { token: eve.token }), 600);
    assertLimited(await call(stack.url, 'GET', `/api/v1/device?user_code=${pending}`, { token: eve.token }), 600);
    assertLimited(await call(stack.url, 'POST', '/api/v1/device/approve', { token: eve.token, body: { userCode: pending } }), 600);
    const row = await stack.pool.query('SELECT status, user_id FROM oauth_device_codes WHERE user_code = $1', [pending]);
    assert.deepEqual(row.rows[0], { status: 'pending', user_id: null });

    // Another user is unaffected: a miss is a 404, and looking a real pending code up many times costs nothing.
    assert.equal((await call(stack.url, 'GET', `/api/v1/device?user_code=${guesses[11]}`, { token: frank.token })).status, 404);
    for (let i = 0; i < 12; i++) {
      assert.equal((await expectStatus(200, stack.url, 'GET', `/api/v1/device?user_code=${pending}`, { token: frank.token })).status, 'pending');
    }
    // The person whose CLI asked approves it; looking at one's own decided code again is no guess either.
    await expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: erin.token, body: { userCode: pending } });
    for (let i = 0; i < 12; i++) {
      assert.equal((await expectStatus(200, stack.url, 'GET', `/api/v1/device?user_code=${pending}`, { token: erin.token })).status, 'approved');
    }
    await expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: erin.token, body: { userCode: pending } });
    // A code someone else decided waits for no one: a miss for frank (his second), answered 409 as before.
    assert.equal((await call(stack.url, 'POST', '/api/v1/device/deny', { token: frank.token, body: { userCode: pending } })).status, 409);
    const counted = await stack.pool.query(`SELECT misses FROM guess_misses WHERE scope = 'device_code' AND key = $1`, [frank.id]);
    assert.equal(counted.rows[0].misses, 2);

    // Once the window has passed, eve may look codes up again, and her count starts over.
    await endWindow('device_code', eve.id);
    const next = (await startDevice(stack.url)).body.user_code;
    assert.equal((await expectStatus(200, stack.url, 'GET', `/api/v1/device?user_code=${next}`, { token: eve.token })).status, 'pending');
    assert.equal((await call(stack.url, 'GET', `/api/v1/device?user_code=${guesses[12]}`, { token: eve.token })).status, 404);
    const restarted = await stack.pool.query(`SELECT misses FROM guess_misses WHERE scope = 'device_code' AND key = $1`, [eve.id]);
    assert.equal(restarted.rows[0].misses, 1);
  });

  test('recovery codes: 5 wrong codes for a name, then 429 even for the right code; other names unaffected', async () => {
    const gina = await createUser(stack.pool, 'gina');
    const hank = await createUser(stack.pool, 'hank');
    const ginaCodes: string[] = (await expectStatus(201, stack.url, 'POST', '/api/v1/recovery-codes', { token: gina.token })).recoveryCodes;
    const hankCodes: string[] = (await expectStatus(201, stack.url, 'POST', '/api/v1/recovery-codes', { token: hank.token })).recoveryCodes;
    const recover = (name: string, code: string) => call(stack.url, 'POST', '/api/v1/sessions/recover', { body: { name, code } });

    for (let i = 0; i < 5; i++) {
      const wrong = await recover('gina', `wron-gcod-e${i}aa-aaaa`);
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(wrong.body.error.code, 'invalid_recovery_code');
    }
    assertLimited(await recover('gina', ginaCodes[0]!), 900);
    const unused = await stack.pool.query('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL', [gina.id]);
    assert.equal(unused.rows[0].n, 10, 'a refused right code is not used up');

    // Another name: its own count; the right code signs in.
    assert.equal((await recover('hank', 'wron-gcod-eaaa-aaaa')).status, 401);
    assert.equal((await recover('hank', hankCodes[0]!)).status, 201);
    // A name nobody has behaves exactly the same (the limit does not tell which names exist).
    for (let i = 0; i < 5; i++) assert.equal((await recover('nobody-here', `wron-gcod-e${i}aa-aaaa`)).status, 401);
    assertLimited(await recover('nobody-here', 'wron-gcod-eaaa-aaaa'), 900);

    await endWindow('recovery_code', 'gina');
    const back = await recover('gina', ginaCodes[0]!);
    assert.equal(back.status, 201, back.text);
  });

  test('ended windows are deleted when another window starts', async () => {
    await stack.pool.query(`INSERT INTO guess_misses (scope, key, misses, reset_at) VALUES ('recovery_code', 'long-ago', 3, now() - interval '1 hour')`);
    assert.equal((await call(stack.url, 'POST', '/api/v1/sessions/recover', { body: { name: 'someone-new', code: 'aaaa-bbbb' } })).status, 401);
    const left = await stack.pool.query(`SELECT key FROM guess_misses WHERE key IN ('long-ago', 'someone-new')`);
    assert.deepEqual(left.rows.map((r) => r.key), ['someone-new']);
  });
});
