/**
 * A node that registers and never sends a heartbeat (an agent that died right after registering,
 * or a registration retried after its answer was lost: bench:fleet left 126 such nodes at 1,000
 * nodes) is declared lost like any silent node, also when its shard already runs with its nodes
 * loaded: otherwise it stays ready for ever and the scheduler keeps placing tasks on it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RegisterResponse } from '../../protocol/index.js';
import { SHARED_POSTGRES } from '../../dev/bench-fleet-config.js';
import { startFleetStack, type FleetStack } from '../../dev/bench-fleet-stack.js';
import { Teardown } from '../../dev/bench-fleet-teardown.js';
import { waitFor } from '../../dev/processes.js';
import { shardOf } from '../../edge/scheduler/shards.js';
import { createPool } from '../../sql/connect.js';

const INTERVAL_MS = 1_000;
const onPglite = process.env.ZECTRE_TEST_DB === 'pglite';

describe('a node silent since it registered', { skip: onPglite && 'uses the bench:fleet stack (PostgreSQL)' }, () => {
  const teardown = new Teardown();
  let stack: FleetStack;

  before(async () => {
    stack = await startFleetStack({ postgres: process.env.ZECTRE_TEST_POSTGRES_URL ?? SHARED_POSTGRES, intervalMs: INTERVAL_MS, echo: false }, teardown);
  }, { timeout: 240_000 });

  after(() => teardown.run());

  const register = async (name: string): Promise<RegisterResponse> => {
    const res = await fetch(`${stack.apiUrl}/scheduler/v1/nodes/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.joinToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, address: '127.0.0.1', labels: {}, capacity: { cpuMillis: 1000, memoryMb: 1024 }, portRange: [20000, 20099] }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as RegisterResponse;
  };

  test('is declared lost by its shard, though the shard was already running', { timeout: 180_000 }, async () => {
    const first = await register('first');
    const beat = await fetch(`${stack.apiUrl}/scheduler/v1/nodes/${first.nodeId}/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ appliedGeneration: 0, tasks: [] }),
    });
    assert.equal(beat.status, 200, await beat.clone().text());
    // Its shard now runs with the nodes it loaded; the silent node registers after that, into it.
    let silent: RegisterResponse;
    let i = 0;
    do silent = await register(`silent-${++i}`);
    while (shardOf(silent.nodeId) !== shardOf(first.nodeId));

    const pool = createPool(stack.db.options, 1);
    try {
      const status = async () => (await pool.query('SELECT status FROM nodes WHERE id = $1', [silent.nodeId])).rows[0]?.status;
      await waitFor('the silent node to be declared lost', async () => (await status()) === 'down', 150_000);
    } finally {
      await pool.end();
    }
  });
});
