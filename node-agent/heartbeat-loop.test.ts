/** The heartbeat loop against an unreachable control plane (a port nothing listens on): how long it waits between tries. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { freePort, waitFor } from './test-support.js';

test('while the control plane is unreachable, retries come at most one heartbeat interval apart (jittered), never the 30 s cap', { timeout: 30_000 }, async () => {
  const port = await freePort(); // nothing listens here: every heartbeat fails at once
  const delays: number[] = [];
  const loop = new HeartbeatLoop({
    apiUrl: `http://127.0.0.1:${port}`,
    identity: () => ({ nodeId: 'n1', credential: 'c', issuer: 'i', audience: 'n1', jwks: { keys: [] } }),
    reRegister: async () => undefined,
    report: () => ({ appliedGeneration: 0, tasks: [] }),
    apply: () => undefined,
    onRoundTrip: () => undefined,
    log: (msg) => {
      const ms = /retrying in (\d+) ms/.exec(msg)?.[1];
      if (ms) delays.push(Number(ms));
    },
  });
  loop.start(800);
  await waitFor('six failed heartbeats', () => delays.length >= 6, 20_000);
  await loop.stop();
  assert.ok(delays.every((d) => d <= 800), `delays ${delays.join(', ')} ms`);
  assert.ok(new Set(delays.slice(3)).size > 1, 'jittered, so agents back from an outage do not arrive in lockstep');
});
