/** The simulated node retries failed heartbeats as the agent does (node-agent/heartbeat-loop.ts). */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ApiError, type ApiClient } from './bench-fleet-http.js';
import { SimNode } from './bench-fleet-node.js';
import { HeartbeatStats } from './bench-fleet-stats.js';

const INTERVAL_MS = 5_000;

test('failed heartbeats are retried within one interval, so a live node never goes silent past the loss threshold', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const attempts: number[] = [];
    const api = {
      call: async (_method: string, path: string) => {
        if (path.endsWith('/register')) return { nodeId: 'n1', credential: 'c', heartbeatIntervalMs: INTERVAL_MS };
        attempts.push(Date.now());
        throw new ApiError('503 internal', 'down', 503);
      },
    } as unknown as ApiClient;
    const node = new SimNode('n1', '127.0.0.1', { api, stats: new HeartbeatStats(), pushUrl: () => null });
    await node.register('join');
    node.start(0);
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    while (attempts.length < 12) {
      mock.timers.tick(100);
      await settle();
    }
    node.kill();
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    assert.ok(Math.max(...gaps) <= INTERVAL_MS, `gaps between attempts: ${gaps.join(', ')} ms`);
  } finally {
    mock.timers.reset();
  }
});
