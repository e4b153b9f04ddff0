/**
 * Node liveness in the node shards (issue 10 point 4, issue 14 points 1, 3 and 9), on the real
 * stack with real agents: a silent node is declared lost by its shard's alarm with no heartbeat
 * from anywhere, and its task is replaced; after a Worker restart no node is declared lost before
 * its grace period ends, and agents that come back in time are not lost at all; while the database
 * is unreachable the API answers 503 with Retry-After and /healthz says so.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Deployment, RegisterResponse } from '../../protocol/index.js';
import { sleep, waitFor, type Child } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { livenessTimes } from '../../edge/scheduler/node-table.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { apiClient, taskGroupsUnder, taskPortRange, WRITER_APP } from './agent-support.js';
import { startSecondAgent } from './operate-support.js';

const INTERVAL_MS = 2_000;
const { lostAfterMs, graceMs } = livenessTimes(INTERVAL_MS);
const echo = process.env.ZECTRE_TEST_ECHO === '1';

describe('node liveness in the node shards', { timeout: 300_000 }, () => {
  let dir: string;
  let stack: Stack;
  let api: ReturnType<typeof apiClient>;
  let pool: ReturnType<typeof createPool>;
  let second: Child | undefined;
  let firstNode: string;
  let deployment: Deployment;
  const sql = async (text: string, args: unknown[] = []) => (await pool.query(text, args)).rows;
  const lostEvents = (since: Date) =>
    sql(`SELECT data->>'nodeId' AS node, (data->>'silentMs')::int AS silent, at FROM events WHERE kind = 'node.lost' AND at >= $1 ORDER BY id`, [since]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-liveness-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('liveness'),
      heartbeatIntervalMs: INTERVAL_MS,
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange() },
      echo,
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    pool = createPool(stack.db.options, 2);
    pool.on('error', () => undefined); // idle connections break while the bridge is paused
  });

  after(async () => {
    await second?.stop();
    // The first agent was SIGKILLed: its task outlived it, as on a machine whose agent crashed.
    for (const group of taskGroupsUnder(stack?.agentWorkDir ?? '/nonexistent')) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await pool?.end();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a silent node is declared lost with no heartbeat from anywhere; its task is replaced on a node that joins', async () => {
    deployment = await api.deploy('alive', WRITER_APP, {
      command: 'node server.mjs',
      healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 },
    });
    firstNode = deployment.tasks[0]!.nodeId;
    const since = new Date();
    stack.agent.proc.kill('SIGKILL'); // the only node: from now on no heartbeat reaches the control plane
    const [lost] = await waitFor('the silent node to be declared lost', async () => {
      const events = await lostEvents(since);
      return events.length > 0 && events;
    }, 120_000);
    assert.equal(lost.node, firstNode);
    assert.ok(lost.silent >= lostAfterMs, `declared lost after ${lost.silent} ms of silence, before ${lostAfterMs} ms`);
    console.log(`# node declared lost after ${lost.silent} ms of silence (bound ${lostAfterMs} ms + alarm delay)`);
    // Its task keeps its place in routing (a silent agent's apps may still answer) until a replacement
    // is healthy: there is no other node yet, so one joins.
    const join = await api.call<{ secret: string }>('POST', '/api/v1/join-tokens', {});
    second = await startSecondAgent({ apiUrl: stack.apiUrl, joinToken: join.secret, dir, name: 'second', portRange: taskPortRange(), echo });
    await waitFor('the replacement to be healthy on the new node', async () => {
      const d = await api.call<Deployment>('GET', `/api/v1/deployments/${deployment.id}`);
      return d.status === 'live' && d.tasks.some((t) => t.desiredState === 'running' && t.observedState === 'healthy' && t.nodeId !== firstNode);
    }, 120_000);
    await waitFor('the task on the lost node to be marked lost', async () => {
      const [task] = await sql(`SELECT desired_state, observed_state FROM tasks WHERE id = $1`, [deployment.tasks[0]!.id]);
      return task.desired_state === 'stopped' && task.observed_state === 'lost';
    }, 60_000);
  });

  test('after a Worker restart no node is declared lost before its grace ends; agents that come back are not lost', async () => {
    const live = (await sql(`SELECT id FROM nodes WHERE status = 'ready'`)).map((r) => r.id as string);
    assert.equal(live.length, 1);
    // A node that heartbeats until the Worker stops and never again (its machine went away during the outage).
    const join = await api.call<{ secret: string }>('POST', '/api/v1/join-tokens', {});
    const gone = await register(stack.apiUrl, join.secret);
    await heartbeat(stack.apiUrl, gone);
    const lastHeard = Date.now();
    await stack.stopWorker();
    // Long enough that every node's last heartbeat is older than the loss threshold.
    await sleep(Math.max(0, lastHeard + 2 * lostAfterMs - Date.now()));
    const restartedAt = new Date();
    await stack.startWorker();
    const events = await waitFor('the vanished node to be declared lost', async () => {
      const events = await lostEvents(restartedAt);
      return events.some((e) => e.node === gone.nodeId) && events;
    }, graceMs + 120_000);
    const vanished = events.find((e) => e.node === gone.nodeId)!;
    const after = new Date(vanished.at).getTime() - restartedAt.getTime();
    assert.ok(after >= graceMs, `declared lost ${after} ms after the restart, before the ${graceMs} ms grace ended`);
    assert.deepEqual(events.map((e) => e.node), [gone.nodeId], 'the agent that came back was declared lost');
    assert.deepEqual(await sql(`SELECT status FROM nodes WHERE id = $1`, [live[0]]), [{ status: 'ready' }]);
  });

  test('while the database is unreachable the API answers 503 database_unavailable with Retry-After and /healthz says so', async () => {
    assert.equal((await fetch(`${stack.apiUrl}/healthz`)).status, 200);
    const since = new Date();
    await stack.db.pauseBridge();
    try {
      const health = await fetch(`${stack.apiUrl}/healthz`);
      assert.equal(health.status, 503);
      assert.equal(health.headers.get('retry-after'), '1');
      assert.deepEqual(await health.json(), { ok: false, database: 'unreachable' });
      const res = await fetch(`${stack.apiUrl}/api/v1/projects`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
      assert.equal(res.status, 503);
      assert.ok(res.headers.get('retry-after'));
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'database_unavailable');
    } finally {
      await stack.db.resumeBridge();
    }
    await waitFor('/healthz to answer 200 again', async () => (await fetch(`${stack.apiUrl}/healthz`)).status === 200, 60_000);
    // The agent kept heartbeating (answered from memory): the outage counted against no node.
    assert.deepEqual(await lostEvents(since), []);
  });
});

async function register(apiUrl: string, joinToken: string): Promise<RegisterResponse> {
  const res = await fetch(`${apiUrl}/scheduler/v1/nodes/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${joinToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'vanishing', address: '127.0.0.1', labels: {}, capacity: { cpuMillis: 100, memoryMb: 100 }, portRange: [40000, 40001] }),
  });
  assert.equal(res.status, 201);
  return (await res.json()) as RegisterResponse;
}

async function heartbeat(apiUrl: string, node: RegisterResponse): Promise<void> {
  const res = await fetch(`${apiUrl}/scheduler/v1/nodes/${node.nodeId}/heartbeat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.credential}`, 'content-type': 'application/json' },
    body: JSON.stringify({ appliedGeneration: 0, tasks: [] }),
  });
  assert.equal(res.status, 200);
}
