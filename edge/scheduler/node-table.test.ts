import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livenessTimes, NodeTable, reportSignature } from './node-table.js';

const row = (id: string) => ({ id, credentialHash: 'h', generation: 1, status: 'ready' as const });

test('with a 5 s interval a silent node is lost after 12 s, and one missed heartbeat is not a loss', () => {
  const table = new NodeTable(livenessTimes(5_000));
  const node = table.add(row('n1'), 0);
  table.seen(node, 30_000); // past the 30 s grace of a cold start
  assert.deepEqual(table.expired(30_000 + 11_999), []);
  assert.deepEqual(table.expired(30_000 + 12_000).map((n) => n.id), ['n1']);
  table.seen(node, 40_000); // one heartbeat missed, the next one arrives
  assert.deepEqual(table.expired(40_000 + 11_999), []);
});

test('a node loaded cold (or after a database outage) gets a grace period longer than an agent backoff, not its old last heartbeat', () => {
  const table = new NodeTable(livenessTimes(5_000));
  table.add(row('n1'), 100_000);
  assert.deepEqual(table.expired(100_000 + 29_999), []);
  assert.equal(table.nextDeadline(), 130_000);
  table.graceAll(129_000);
  assert.deepEqual(table.expired(158_999), []);
  assert.deepEqual(table.expired(159_000).map((n) => n.id), ['n1']);
  assert.equal(livenessTimes(20_000).graceMs, 60_000);
});

test('a short interval (as in tests) still waits 10 s before a node is lost', () => {
  assert.equal(livenessTimes(1_000).lostAfterMs, 10_000);
  assert.equal(livenessTimes(5_000).lostAfterMs, 12_000);
});

test('a node that registered after the shard loaded gets the usual deadline, not a grace period', () => {
  const table = new NodeTable(livenessTimes(5_000));
  table.add(row('n1'), 0, false);
  assert.deepEqual(table.expired(12_000).map((n) => n.id), ['n1']);
});

test('a down node is not lost again; generations only grow', () => {
  const table = new NodeTable(livenessTimes(5_000));
  const node = table.add(row('n1'), 0);
  node.status = 'down';
  assert.deepEqual(table.expired(1e9), []);
  assert.equal(table.nextDeadline(), Infinity);
  table.raiseGeneration('n1', 5);
  table.raiseGeneration('n1', 3);
  assert.equal(node.generation, 5);
});

test('the report signature ignores order and CPU/RSS figures, not states, restarts or exits', () => {
  const a = { id: 'a', state: 'healthy' as const, restarts: 0, cpuMillis: 3 };
  const b = { id: 'b', state: 'starting' as const, restarts: 1, rssBytes: 10 };
  assert.equal(reportSignature([a, b]), reportSignature([{ ...b, rssBytes: 99 }, { ...a, cpuMillis: 7 }]));
  assert.notEqual(reportSignature([a, b]), reportSignature([a, { ...b, state: 'healthy' }]));
  assert.notEqual(reportSignature([a]), reportSignature([{ ...a, restarts: 1 }]));
  assert.notEqual(reportSignature([a]), reportSignature([{ ...a, exitCode: 1 }]));
});
