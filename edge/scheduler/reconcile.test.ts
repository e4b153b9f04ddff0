/**
 * Scheduler passes against the real database (PostgreSQL or PGlite, through the Neon driver): what
 * snapshot.ts reads, what the reconciler decides and what apply-decisions.ts writes, with the
 * clock passed in, without a Worker around it.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { openDatabase, type LocalDatabase } from '../../dev/database.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../../test/support/database.js';
import { transaction, type Db } from '../db.js';
import type { Deps } from '../deps.js';
import type { Env } from '../env.js';
import { writeHeartbeat } from './heartbeat-write.js';
import type { NodeEntry } from './node-table.js';
import { reconcile, reconcileProjects } from './reconcile.js';
import { markLost } from './shard-sql.js';
import { loadCapacity } from './snapshot.js';
import { retireTasks } from './retire.js';

let local: LocalDatabase;
let db: Db;
let deps: Deps;

before(async () => {
  local = await openDatabase(testDatabase('reconcile'));
  db = createPool(local.options, 2) as unknown as Db;
  deps = { env: { HEARTBEAT_INTERVAL_MS: '1000' } as Env, db: () => db, defer: () => undefined, releaseDb: async () => undefined };
  await db.query(`INSERT INTO artifacts (digest, size) VALUES ('sha256:00', 1)`);
}, { timeout: 60_000 });

after(async () => {
  await (db as unknown as { end(): Promise<void> })?.end();
  await local?.close();
});

beforeEach(async () => {
  await db.query('DELETE FROM projects; DELETE FROM nodes; DELETE FROM proxies; DELETE FROM events');
  await db.query(`INSERT INTO projects (id, slug) VALUES ('p1', 'shop')`);
});

const q = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows;
const epoch = async () => Number((await q('SELECT epoch FROM route_epoch'))[0].epoch);

async function addNode(id: string, opts: { draining?: boolean; silentFor?: string } = {}): Promise<void> {
  await db.query(
    `INSERT INTO nodes (id, name, address, cpu_millis, memory_mb, port_min, port_max, status, credential_hash, draining_since, last_heartbeat_at)
     VALUES ($1, $1, '127.0.0.1', 1000, 1000, 20000, 20010, 'ready', $1, $2, now() - $3::interval)`,
    [id, opts.draining ? new Date() : null, opts.silentFor ?? '0 seconds'],
  );
}

async function addDeployment(id: string, status: string, opts: { replicas?: number; deadline?: string; createdAgo?: string } = {}): Promise<void> {
  await db.query(
    `INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, status, deadline_at, created_at)
     VALUES ($1, 'p1', 'sha256:00', 'node server.js', '', $3, '{}', '{"cpuMillis":100,"memoryMb":100}', $2, now() + $4::interval, now() - $5::interval)`,
    [id, status, opts.replicas ?? 1, opts.deadline ?? '2 minutes', opts.createdAgo ?? '0 seconds'],
  );
  if (status === 'live') await db.query(`UPDATE projects SET live_deployment_id = $1 WHERE id = 'p1'`, [id]);
}

async function addTask(id: string, deployment: string, node: string, port: number, observed = 'healthy', createdAgo = '1 hour'): Promise<void> {
  await db.query(
    `INSERT INTO tasks (id, deployment_id, node_id, port, desired_state, observed_state, created_at)
     VALUES ($1, $2, $3, $4, 'running', $5, now() - $6::interval)`,
    [id, deployment, node, port, observed, createdAgo],
  );
}

/** What the proxies route to: the routing view (migration 010). */
const routed = async () => (await q('SELECT id FROM routing.routable_tasks ORDER BY id')).map((r) => r.id);

const routable = async () =>
  (await q(`SELECT id FROM tasks WHERE desired_state = 'running' AND observed_state = 'healthy' AND retire_epoch IS NULL ORDER BY id`)).map((r) => r.id);

test('a steady cluster: the pass reads no project and writes nothing', async () => {
  await addNode('n1');
  await addDeployment('d1', 'live');
  await addTask('t1', 'd1', 'n1', 20000);
  const [before, generation] = [await epoch(), (await q('SELECT generation FROM nodes'))[0].generation];
  assert.deepEqual(await reconcile(deps), []);
  assert.equal(await epoch(), before);
  assert.equal((await q('SELECT generation FROM nodes'))[0].generation, generation);
});

test('placement avoids the ports running tasks hold, then the cutover records the pass clock and epoch', async () => {
  await addNode('n1');
  await addDeployment('d0', 'standby', { createdAgo: '2 hours' });
  await addDeployment('d1', 'live', { createdAgo: '1 hour' });
  await addTask('t0', 'd0', 'n1', 20000);
  await addTask('t1', 'd1', 'n1', 20001);
  await addDeployment('d2', 'pending', { replicas: 2 });
  await reconcile(deps);
  assert.deepEqual(await q(`SELECT port FROM tasks WHERE deployment_id = 'd2' ORDER BY port`), [{ port: 20002 }, { port: 20003 }]);
  assert.equal((await q(`SELECT status FROM deployments WHERE id = 'd2'`))[0].status, 'deploying');

  await db.query(`UPDATE tasks SET observed_state = 'healthy' WHERE deployment_id = 'd2'`);
  const clock = Date.now() + 5000;
  await reconcile(deps, clock);
  const rows = await q(`SELECT id, status, live_at, live_epoch, retire_epoch, retire_requested_at FROM deployments ORDER BY id`);
  assert.deepEqual(rows.map((r) => [r.id, r.status]), [['d0', 'superseded'], ['d1', 'standby'], ['d2', 'live']]);
  const e = await epoch();
  assert.equal(new Date(rows[2].live_at).getTime(), clock);
  assert.equal(Number(rows[2].live_epoch), e);
  assert.equal(Number(rows[0].retire_epoch), e, 'the old standby leaves routing at the cutover epoch');
  assert.equal(new Date(rows[0].retire_requested_at).getTime(), clock);
  assert.equal((await q(`SELECT live_deployment_id FROM projects`))[0].live_deployment_id, 'd2');
  assert.deepEqual((await q(`SELECT kind, data FROM events`)).map((r) => [r.kind, r.data.previous]), [['deployment.live', 'd1']]);
  assert.equal((await q(`SELECT count(*)::int AS n FROM tasks WHERE deployment_id = 'd0' AND desired_state = 'running'`))[0].n, 1, 'stops only after acknowledgement');
});

test('a crash loop fails the deployment at once with the exit the agent reported before restarting', async () => {
  await addNode('n1');
  await addDeployment('d1', 'live');
  await addTask('t1', 'd1', 'n1', 20000);
  await addDeployment('d2', 'deploying');
  await addTask('t2', 'd2', 'n1', 20001, 'starting', '0 seconds');
  // As the heartbeat writes it: exited with code 3, then starting again (no exit code) after the third restart.
  await db.query(`UPDATE tasks SET observed_state = 'exited', exit_code = 3, message = 'exited with code 3', restarts = 2 WHERE id = 't2'`);
  await db.query(`UPDATE tasks SET observed_state = 'starting', exit_code = NULL, message = NULL, restarts = 3 WHERE id = 't2'`);
  await reconcile(deps);
  const [d2] = await q(`SELECT status, status_reason FROM deployments WHERE id = 'd2'`);
  assert.equal(d2.status, 'failed');
  assert.equal(d2.status_reason, 'crash loop: task t2 restarted 3 time(s) without ever becoming healthy, last exit code 3: exited with code 3');
  assert.equal((await q(`SELECT desired_state FROM tasks WHERE id = 't2'`))[0].desired_state, 'stopped');
  assert.equal((await q(`SELECT live_deployment_id FROM projects`))[0].live_deployment_id, 'd1');
  assert.deepEqual((await q(`SELECT kind FROM events`)).map((r) => r.kind), ['deployment.failed']);
});

test('a task that was healthy once is not a crash loop; its deployment fails only at its deadline, by the pass clock', async () => {
  await addNode('n1');
  await addDeployment('d2', 'deploying', { deadline: '1 minute' });
  await addTask('t2', 'd2', 'n1', 20000, 'starting', '0 seconds');
  await db.query(`UPDATE tasks SET observed_state = 'healthy' WHERE id = 't2'`);
  await db.query(`UPDATE tasks SET observed_state = 'exited', exit_code = 1, message = 'exited with code 1', restarts = 5 WHERE id = 't2'`);
  await reconcile(deps);
  assert.equal((await q(`SELECT status FROM deployments`))[0].status, 'deploying');
  await reconcile(deps, Date.now() + 61_000);
  const [d2] = await q(`SELECT status, status_reason FROM deployments`);
  assert.equal(d2.status, 'failed');
  assert.match(d2.status_reason, /^not healthy before its deadline: 1 of 1 task\(s\) not healthy \(task t2 exited, last exit code 1, 5 restart\(s\)/);
});

test('a node its shard declares lost goes down; its task keeps routing until a replacement on another node is healthy, then is lost', async () => {
  await addNode('n-silent', { silentFor: '10 seconds' });
  await addNode('n-ok');
  await addDeployment('d1', 'live');
  await addTask('t1', 'd1', 'n-silent', 20000);
  const lost = await markLost(db, [{ id: 'n-silent', lastSeen: Date.now() - 10_000 } as NodeEntry], Date.now());
  assert.deepEqual(lost, { down: ['n-silent'], projects: ['p1'] });
  assert.deepEqual((await q(`SELECT kind, data->>'nodeId' AS node FROM events`)), [{ kind: 'node.lost', node: 'n-silent' }]);
  await reconcileProjects(deps, { projects: lost.projects, sweep: false });
  assert.equal((await q(`SELECT status FROM nodes WHERE id = 'n-silent'`))[0].status, 'down');
  const [replacement] = await q(`SELECT id, node_id, port FROM tasks WHERE id <> 't1'`);
  assert.deepEqual([replacement.node_id, replacement.port], ['n-ok', 20000]);
  assert.deepEqual(await routed(), ['t1'], 'the silent node\'s task must keep serving until its replacement does');
  assert.deepEqual((await q(`SELECT id, generation FROM nodes ORDER BY id`)).map((r) => Number(r.generation)), [2, 1], 'n-ok got the replacement; n-silent nothing yet');

  await db.query(`UPDATE tasks SET observed_state = 'healthy' WHERE id = $1`, [replacement.id]);
  const before = await epoch();
  await reconcileProjects(deps, { projects: ['p1'], sweep: false });
  assert.deepEqual(await q(`SELECT desired_state, observed_state FROM tasks WHERE id = 't1'`), [{ desired_state: 'stopped', observed_state: 'lost' }]);
  assert.deepEqual(await routed(), [replacement.id]);
  assert.ok((await epoch()) > before);
});

test('declaring nodes lost skips a node whose row another transaction holds, instead of waiting for it', { timeout: 60_000 }, async () => {
  await addNode('n1');
  await addNode('n2');
  const holder = await (db as unknown as { connect(): Promise<{ query(sql: string): Promise<unknown>; release(): void }> }).connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM nodes WHERE id = 'n1' FOR UPDATE`); // as a heartbeat of n1 being written
    const silent = (id: string) => ({ id, lastSeen: Date.now() - 12_000 }) as NodeEntry;
    const lost = await markLost(db, [silent('n1'), silent('n2')], Date.now());
    assert.deepEqual(lost.down, ['n2']);
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
  }
  assert.deepEqual(await q(`SELECT id, status FROM nodes ORDER BY id`), [{ id: 'n1', status: 'ready' }, { id: 'n2', status: 'down' }]);
});

test('a node that flapped: the port of a lost task its agent still runs is not placed again until the agent stops it', async () => {
  await addNode('n1');
  await addNode('n2');
  await addDeployment('d1', 'live');
  await addTask('t1', 'd1', 'n1', 20000);
  const lost = await markLost(db, [{ id: 'n1', lastSeen: Date.now() - 10_000 } as NodeEntry], Date.now());
  await reconcileProjects(deps, { projects: lost.projects, sweep: false });
  await db.query(`UPDATE tasks SET observed_state = 'healthy' WHERE id <> 't1'`);
  await reconcileProjects(deps, { projects: ['p1'], sweep: false });
  assert.deepEqual(await q(`SELECT desired_state, observed_state FROM tasks WHERE id = 't1'`), [{ desired_state: 'stopped', observed_state: 'lost' }]);

  // n1 was alive all along: its next heartbeat brings it back, still running t1 on port 20000.
  const { generation } = await writeHeartbeat(db, 'n1', { appliedGeneration: 1, tasks: [{ id: 't1', state: 'healthy', restarts: 0 }] });
  assert.ok(generation > 1, 'n1 has yet to hear that t1 stopped');
  await db.query(`UPDATE deployments SET replicas = 2`);
  await reconcileProjects(deps, { projects: ['p1'], sweep: false });
  assert.deepEqual(await q(`SELECT node_id, port FROM tasks WHERE desired_state = 'running' AND node_id = 'n1'`), [{ node_id: 'n1', port: 20001 }]);

  // Once the agent stopped t1 and no longer reports it, its port is free again.
  await writeHeartbeat(db, 'n1', { appliedGeneration: generation, tasks: [] });
  const view = await transaction(db, loadCapacity);
  const ports = view.ports[view.indexOf('n1')]!;
  assert.deepEqual([ports.has(20000), ports.has(20001)], [false, true]);
});

test('drain plus scale-down never retires the last routable task of a deployment', async () => {
  await addNode('n-drain', { draining: true });
  await addNode('n-ok');
  await addDeployment('d1', 'live', { replicas: 2 });
  // A on the draining node; C its healthy replacement elsewhere. Scaling 2 -> 1 retires C (the newest).
  await addTask('tA', 'd1', 'n-drain', 20000);
  await addTask('tC', 'd1', 'n-ok', 20000, 'healthy', '1 minute');
  await db.query(`UPDATE deployments SET replicas = 1`);
  await transaction(db, (tx) => retireTasks(tx, ['tC']));
  await reconcile(deps);
  assert.deepEqual(await routable(), ['tA'], 'the drained task must keep serving while its replacement retires');
  // No proxy runs, so C stops in the same pass and its replacement takes its port (stops go first).
  assert.equal((await q(`SELECT desired_state FROM tasks WHERE id = 'tC'`))[0].desired_state, 'stopped');
  assert.deepEqual(await q(`SELECT node_id, port FROM tasks WHERE id NOT IN ('tA', 'tC')`), [{ node_id: 'n-ok', port: 20000 }]);
});

test('a retired task stops once every live proxy serves its epoch, not before', async () => {
  await addNode('n1');
  await addDeployment('d1', 'live');
  await addTask('t1', 'd1', 'n1', 20000);
  await addTask('t2', 'd1', 'n1', 20001, 'healthy', '1 minute');
  await db.query(`INSERT INTO proxies (id, epoch, last_seen_at) VALUES ('px', 0, now())`);
  await reconcile(deps); // one task too many: t2, the newest, retires
  const state = async () => (await q(`SELECT desired_state, retire_epoch FROM tasks WHERE id = 't2'`))[0];
  assert.equal(Number((await state()).retire_epoch), await epoch());
  await reconcile(deps);
  assert.equal((await state()).desired_state, 'running', 'stopped while a live proxy still served an older epoch');
  await db.query(`UPDATE proxies SET epoch = (SELECT epoch FROM route_epoch)`);
  await reconcile(deps);
  assert.equal((await state()).desired_state, 'stopped');
});
