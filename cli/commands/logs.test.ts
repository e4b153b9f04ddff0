import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSince } from './logs.js';

const now = Date.parse('2026-01-02T03:04:05.000Z');

test('--since takes a duration back from now', () => {
  assert.equal(parseSince('10m', now), '2026-01-02T02:54:05.000Z');
  assert.equal(parseSince('30s', now), '2026-01-02T03:03:35.000Z');
  assert.equal(parseSince('2h', now), '2026-01-02T01:04:05.000Z');
  assert.equal(parseSince('1d', now), '2026-01-01T03:04:05.000Z');
});

test('--since also takes an ISO time, and refuses anything else', () => {
  assert.equal(parseSince('2026-01-01T00:00:00Z', now), '2026-01-01T00:00:00.000Z');
  assert.throws(() => parseSince('yesterday', now), /expected a duration like 30s, 10m/);
  assert.throws(() => parseSince('10 minutes', now), /expected a duration/);
});
