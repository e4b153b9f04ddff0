/**
 * Heartbeats at constant cost (issue 10, point 2), against the control plane in workerd on
 * PostgreSQL behind a counting bridge: a heartbeat that reports nothing new makes no database round
 * trip, and no heartbeat waits for the scheduler lock. The interval is long (120 s), so the
 * background work of the Durable Objects (sweeps, flushes) stays out of the counted window.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment, HeartbeatResponse, ObservedTask, RegisterResponse } from '../../protocol/index.js';
import { SHARED_POSTGRES } from '../../dev/bench-fleet-config.js';
import { startFleetStack, type FleetStack } from '../../dev/bench-fleet-stack.js';
import { Teardown } from '../../dev/bench-fleet-teardown.js';
import { waitFor } from '../../dev/processes.js';
import { createPool } from '../../sql/connect.js';
import { apiClient, tarball } from './agent-support.js';

const INTERVAL_MS = 120_000;
const SCHEDULER_LOCK = 7357002;
const onPglite = process.env.ZECTRE_TEST_DB === 'pglite';

describe('heartbeat cost', { skip: onPglite && 'needs PostgreSQL (the counting bridge of bench:fleet)' }, () => {
  const teardown = new Teardown();
  let stack: FleetStack;
  let node: RegisterResponse;
  let task: ObservedTask;
  let applied = 0;

  const roundTrips = () => (stack.bridge.counters.messages.S ?? 0) + (stack.bridge.counters.messages.Q ?? 0);
  const beat = async (tasks: ObservedTask[]): Promise<HeartbeatResponse> => {
    const res = await fetch(`${stack.apiUrl}/scheduler/v1/nodes/${node.nodeId}/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${node.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ appliedGeneration: applied, tasks }),
      // A heartbeat stuck behind a lock fails the test instead of hanging it.
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const answer = (await res.json()) as HeartbeatResponse;
    if (answer.desired) applied = answer.desired.generation;
    return answer;
  };

  before(async () => {
    stack = await startFleetStack({ postgres: process.env.ZECTRE_TEST_POSTGRES_URL ?? SHARED_POSTGRES, intervalMs: INTERVAL_MS, echo: false }, teardown);
    const reg = await fetch(`${stack.apiUrl}/scheduler/v1/nodes/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.joinToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'n1', address: '127.0.0.1', labels: {}, capacity: { cpuMillis: 4000, memoryMb: 4096 }, portRange: [20000, 20099] }),
    });
    node = (await reg.json()) as RegisterResponse;
    await beat([]);
    // A deployment placed on the node: the scheduler tells the node's shard, whose next answer carries it.
    const api = apiClient(stack.apiUrl, stack.adminToken);
    await api.call('POST', '/api/v1/projects', { name: 'cost' });
    const { digest } = await api.call<{ digest: string }>('PUT', '/api/v1/projects/cost/artifacts', undefined, await tarball({ 'a.txt': 'a' }));
    const created = await api.call<Deployment>('POST', '/api/v1/projects/cost/deployments', { artifact: digest, command: 'true' });
    const answer = await beat([]);
    assert.equal(answer.desired?.tasks.length, 1, 'the heartbeat after the placement carries the new desired state');
    task = { id: answer.desired!.tasks[0]!.id, state: 'healthy', restarts: 0 };
    await beat([task]);
    await waitFor('the deployment to go live', async () => (await api.call<Deployment>('GET', `/api/v1/deployments/${created.id}`)).status === 'live', 60_000);
    // The sweeps that follow a rollout (every second while work is in flight) end once nothing is pending.
    for (let last = -1; roundTrips() !== last; ) {
      last = roundTrips();
      await sleep(1_500);
    }
  }, { timeout: 240_000 });

  after(() => teardown.run());

  test("the bench's requests reach the Worker's own workerd socket, not wrangler dev's proxy", () => {
    // Every request above went to stack.apiUrl; bench:fleet measures through the same.
    assert.notEqual(new URL(stack.apiUrl).port, new URL(stack.proxyUrl).port);
  });

  test('a heartbeat that reports nothing new makes no database round trip', async () => {
    await beat([task]);
    const before = roundTrips();
    for (let i = 0; i < 20; i++) {
      const answer = await beat([{ ...task, cpuMillis: i, rssBytes: 1000 + i }]);
      assert.equal(answer.desired, undefined);
    }
    assert.equal(roundTrips() - before, 0);
  });

  test('heartbeats, steady or with news, do not wait for the scheduler lock', async () => {
    const pool = createPool(stack.db.options, 2);
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [SCHEDULER_LOCK]);
      await beat([task]);
      // News: the task turned unhealthy (written, and an evaluation raised that waits for the lock; the heartbeat does not).
      await beat([{ ...task, state: 'unhealthy' }]);
      const [row] = (await pool.query('SELECT observed_state FROM tasks WHERE id = $1', [task.id])).rows;
      assert.equal(row.observed_state, 'unhealthy');
      await beat([task]);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
      await pool.end();
    }
  });
});
