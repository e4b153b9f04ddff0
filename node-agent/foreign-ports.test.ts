import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FOREIGN_PORTS } from '../protocol/index.js';
import { ForeignPorts } from './foreign-ports.js';

test('a port held by another process is reported until it is forgotten after the avoid time', () => {
  let now = 0;
  const ports = new ForeignPorts(1_000, () => now);
  ports.add(20005);
  now = 500;
  ports.add(20001);
  assert.deepEqual(ports.list(), [20001, 20005]);
  now = 1_000;
  assert.deepEqual(ports.list(), [20001], 'the older one is forgotten');
  ports.add(20001); // found held again: avoided for another full period
  now = 1_999;
  assert.deepEqual(ports.list(), [20001]);
  now = 2_000;
  assert.deepEqual(ports.list(), []);
});

test('at most MAX_FOREIGN_PORTS are kept, the oldest dropped first', () => {
  let now = 0;
  const ports = new ForeignPorts(60_000, () => now);
  for (let i = 0; i < MAX_FOREIGN_PORTS + 5; i++, now++) ports.add(20000 + i);
  const list = ports.list();
  assert.equal(list.length, MAX_FOREIGN_PORTS);
  assert.equal(list[0], 20005);
});
