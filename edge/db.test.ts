/**
 * transaction() against a real PostgreSQL: two transactions that lock two rows in opposite orders
 * deadlock; PostgreSQL aborts one, and transaction() runs it again, so both callers succeed (a
 * heartbeat racing a project delete used to answer 500 here).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase, type LocalDatabase } from '../dev/database.js';
import { createPool } from '../sql/connect.js';
import { testDatabase } from '../test/support/database.js';
import { isRetryable, transaction, type Tx } from './db.js';

let local: LocalDatabase;
let pool: ReturnType<typeof createPool>;

before(async () => {
  local = await openDatabase(testDatabase('edgedb'));
  pool = createPool(local.options, 4);
  await pool.query(`CREATE TABLE counters (id text PRIMARY KEY, n int NOT NULL);
    INSERT INTO counters VALUES ('a', 0), ('b', 0)`);
});
after(async () => {
  await pool?.end();
  await local?.close();
});

/** Resolves once both sides arrived: each holds its first row lock before either asks for its second. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return () => {
    if (++arrived === parties) open();
    return opened;
  };
}

test('a deadlocked transaction is run again and both writers succeed', { skip: process.env.ZECTRE_TEST_DB === 'pglite' }, async () => {
  const meet = barrier(2);
  let attempts = 0;
  const bump = (first: string, second: string) => transaction(pool, async (tx: Tx) => {
    attempts++;
    await tx.query('UPDATE counters SET n = n + 1 WHERE id = $1', [first]);
    if (attempts <= 2) await meet();
    await tx.query('UPDATE counters SET n = n + 1 WHERE id = $1', [second]);
  });
  await Promise.all([bump('a', 'b'), bump('b', 'a')]);
  assert.ok(attempts >= 3, `expected a deadlock and a retry, saw ${attempts} attempts`);
  const { rows } = await pool.query('SELECT id, n FROM counters ORDER BY id');
  assert.deepEqual(rows, [{ id: 'a', n: 2 }, { id: 'b', n: 2 }]);
});

test('only deadlocks and serialization failures are retried', () => {
  assert.ok(isRetryable({ code: '40P01' }));
  assert.ok(isRetryable({ code: '40001' }));
  assert.ok(!isRetryable({ code: '23505' }));
  assert.ok(!isRetryable(new Error('boom')));
});
