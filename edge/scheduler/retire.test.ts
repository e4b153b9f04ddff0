/**
 * Task retirement against the real database (PostgreSQL or PGlite, through the Neon driver): the
 * SQL of retire.ts and its interplay with drain and promotion, without a Worker around it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase, type LocalDatabase } from '../../dev/database.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../../test/support/database.js';
import { transaction, type Db } from '../db.js';
import { finishDrains } from './drain.js';
import { retireTasks, stopAcknowledged } from './retire.js';

let local: LocalDatabase;
let db: Db;

before(async () => {
  local = await openDatabase(testDatabase('retire'));
  db = createPool(local.options, 2) as unknown as Db;
  await db.query(`INSERT INTO artifacts (digest, size) VALUES ('sha256:00', 1)`);
  await db.query(`INSERT INTO projects (id, slug) VALUES ('p1', 'shop')`);
  await db.query(
    `INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, status, deadline_at)
     VALUES ('d1', 'p1', 'sha256:00', 'node server.js', '', 1, '{}', '{"cpuMillis":1,"memoryMb":1}', 'live', now())`,
  );
  await db.query(`UPDATE projects SET live_deployment_id = 'd1'`);
  for (const [id, draining] of [['n-drain', true], ['n-ok', false]] as const) {
    await db.query(
      `INSERT INTO nodes (id, name, address, cpu_millis, memory_mb, port_min, port_max, status, credential_hash, draining_since)
       VALUES ($1, $1, '127.0.0.1', 1000, 1000, 20000, 20010, 'ready', $1, $2)`,
      [id, draining ? new Date() : null],
    );
  }
}, { timeout: 60_000 });

after(async () => {
  await (db as unknown as { end(): Promise<void> })?.end();
  await local?.close();
});

const routable = async () =>
  (await db.query(`SELECT id FROM tasks WHERE desired_state = 'running' AND observed_state = 'healthy' AND retire_epoch IS NULL ORDER BY id`)).rows.map((r) => r.id);

test('drain plus scale-down never retires the last routable task of a deployment', async () => {
  // A on the draining node; C its healthy replacement elsewhere. Scaling 2 -> 1 retires C (the newest).
  await db.query(
    `INSERT INTO tasks (id, deployment_id, node_id, port, desired_state, observed_state, created_at)
     VALUES ('tA', 'd1', 'n-drain', 20000, 'running', 'healthy', now() - interval '1 hour'), ('tC', 'd1', 'n-ok', 20000, 'running', 'healthy', now())`,
  );
  await transaction(db, async (tx) => {
    await retireTasks(tx, ['tC']);
    await finishDrains(tx);
  });
  assert.deepEqual(await routable(), ['tA'], 'the drained task must keep serving while its replacement retires');
});

test('a retired task stops once every live proxy serves its epoch, not before', async () => {
  await db.query(`INSERT INTO proxies (id, epoch, last_seen_at) VALUES ('px', 0, now())`);
  await transaction(db, async (tx) => stopAcknowledged(tx));
  const state = async () => (await db.query(`SELECT desired_state FROM tasks WHERE id = 'tC'`)).rows[0]?.desired_state;
  assert.equal(await state(), 'running', 'stopped while a live proxy still served an older epoch');
  await db.query(`UPDATE proxies SET epoch = (SELECT epoch FROM route_epoch)`);
  await transaction(db, async (tx) => stopAcknowledged(tx));
  assert.equal(await state(), 'stopped');
});
