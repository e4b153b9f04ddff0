import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { INT4_MAX, MAX_EPOCH_MS, cursor, int4, line, pageLimit, reported, since, text } from './fields.js';
import { LogEntry } from './logs.js';
import { RegisterRequest } from './scheduler.js';

/** What UTF-8 (PostgreSQL text) and jsonb store as given: no NUL, no unpaired surrogate. */
const storable = (s: string) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s;
const anyString = fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\0', '\ud800', '\udfff', '💥')), maxLength: 12 });

test('text() accepts exactly the strings PostgreSQL stores unchanged', () => {
  fc.assert(fc.property(anyString, (s) => text(100).safeParse(s).success === storable(s)), { seed: 1 });
  assert.equal(text(3).safeParse('abcd').success, false);
  assert.match(text(10).safeParse('a\0b').error!.issues[0]!.message, /NUL/);
});

test('line() also refuses control characters', () => {
  for (const s of ['a\nb', 'a\tb', '\x1b[31m', '\x85']) assert.equal(line(20).safeParse(s).success, false, JSON.stringify(s));
  assert.equal(line(20).safeParse('node é 💥').success, true);
  assert.equal(line(20).safeParse('').success, false);
});

test('reported() cleans what an app controls instead of refusing it', () => {
  fc.assert(fc.property(anyString, (s) => storable(reported(100).parse(s))), { seed: 2 });
  assert.equal(reported(20).parse('a\0b\ud800c💥'), 'a\ufffdb\ufffdc💥');
});

test('int4() stays inside a PostgreSQL integer', () => {
  assert.equal(int4(1).safeParse(INT4_MAX).success, true);
  for (const n of [INT4_MAX + 1, 0, 1.5, Number.NaN, Infinity]) assert.equal(int4(1).safeParse(n).success, false, String(n));
});

test('query values: cursor within bigint, page limit positive and capped', () => {
  assert.equal(cursor.safeParse('9223372036854775807').success, true);
  for (const v of ['9223372036854775808', '-1', '1.5', '1e3', '', ' 1', '0x10']) assert.equal(cursor.safeParse(v).success, false, v);
  const limit = pageLimit(1_000, 100);
  assert.equal(limit.parse(undefined), 100);
  assert.equal(limit.parse('5000'), 1_000);
  for (const v of ['0', '-1', '0.5', 'abc', '']) assert.equal(limit.safeParse(v).success, false, v);
});

test('since: ISO 8601 or a duration, always an instant PostgreSQL parses', () => {
  assert.equal(since.parse('2024-05-01T10:00:00+02:00'), '2024-05-01T08:00:00.000Z');
  assert.equal(since.parse('2024-05-01'), '2024-05-01T00:00:00.000Z');
  const tenMinutesAgo = Date.parse(since.parse('10m'));
  assert.ok(Math.abs(Date.now() - 600_000 - tenMinutesAgo) < 60_000);
  // Each of these is accepted by Date.parse and refused by PostgreSQL, or beyond year 9999.
  for (const v of ['1', '2024', ' 5', 'Tue, 01 Jan 2024', '+275760-09-13T00:00:00.000Z', '10000-01-01', '999999d', '-5m', 'now']) {
    assert.equal(since.safeParse(v).success, false, v);
  }
});

test('wire schemas: agent-reported log lines are cleaned, timestamps stay in range', () => {
  assert.equal(LogEntry.parse({ seq: 1, ts: 0, stream: 'stdout', line: 'a\0b' }).line, 'a\ufffdb');
  assert.equal(LogEntry.safeParse({ seq: 1, ts: MAX_EPOCH_MS + 1, stream: 'stdout', line: '' }).success, false);
  const node = { name: 'n1', address: '127.0.0.1', capacity: { cpuMillis: 1_000, memoryMb: 1_024 } };
  assert.equal(RegisterRequest.safeParse(node).success, true);
  assert.equal(RegisterRequest.safeParse({ ...node, labels: { zone: 'a\0' } }).success, false);
  assert.equal(RegisterRequest.safeParse({ ...node, capacity: { cpuMillis: 2 ** 31, memoryMb: 1 } }).success, false);
  assert.equal(RegisterRequest.safeParse({ ...node, pushUrl: 'http://127.0.0.1:7070/\0' }).success, false);
});
