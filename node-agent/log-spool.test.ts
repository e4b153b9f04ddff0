import assert from 'node:assert/strict';
import { appendFileSync, openSync, closeSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogBatch } from '../protocol/index.js';
import { MAX_BATCH_BYTES } from './log-batch.js';
import { LogSpool } from './log-spool.js';
import { tempDir, waitFor } from './test-support.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => (dir = await tempDir('spool')));
after(() => dir.remove());

/** The spool's segment files, oldest first. */
const segments = (path: string) => readdirSync(path).filter((f) => /^spool.*\.jsonl$/.test(f)).sort((a, b) => Number(/\d+/.exec(a)?.[0] ?? 0) - Number(/\d+/.exec(b)?.[0] ?? 0));
const lines = (spool: LogSpool) => spool.pending(1_000_000).map((e) => `${e.seq} ${e.stream} ${e.line}`);

test('numbers stdout/stderr lines, redacts secret values, waits for a line to end unless the process is gone', () => {
  const spool = new LogSpool('t1', join(dir.path, 't1'), { secretValues: ['s3cret-value', 'no'] });
  appendFileSync(spool.rawPath('stdout'), 'hello\nthe key is s3cret-value!\r\npart');
  appendFileSync(spool.rawPath('stderr'), 'oops no\n');
  spool.note('started pid 1');
  assert.equal(spool.poll(), 3);
  assert.deepEqual(lines(spool), ['1 system started pid 1', '2 stdout hello', '3 stdout the key is [redacted]!', '4 stderr oops no']);
  spool.poll(true); // the process exited: its unterminated last line counts
  assert.deepEqual(lines(spool).slice(-1), ['5 stdout part']);
});

test('a restarted agent resumes from the spool: unacked lines kept, nothing read twice, torn records cut', () => {
  const path = join(dir.path, 't2');
  const first = new LogSpool('t2', path, { secretValues: [] });
  appendFileSync(first.rawPath('stdout'), 'a\nb\nc\n');
  first.poll();
  first.ack(2);
  const segment = join(path, segments(path).at(-1)!);
  appendFileSync(segment, '{"s":9,"t":1,"k":"std'); // the agent died mid-write
  appendFileSync(first.rawPath('stdout'), 'd\n');

  const second = new LogSpool('t2', path, { secretValues: [] });
  assert.equal(second.ackedSeq, 2);
  second.poll();
  assert.deepEqual(lines(second), ['3 stdout c', '4 stdout d']);
  assert.ok(readFileSync(segment, 'utf8').endsWith('\n'), 'torn record removed');
});

test('a full spool drops lines and says so explicitly, with the next sequence number', () => {
  // 300 bytes: three short lines, counted at their length + 80 bytes of record each.
  const spool = new LogSpool('t3', join(dir.path, 't3'), { secretValues: [], budget: { limitBytes: 300, usedBytes: 0 } });
  appendFileSync(spool.rawPath('stdout'), '1\n2\n3\n4\n5\n');
  spool.poll();
  assert.deepEqual(lines(spool), ['1 stdout 1', '2 stdout 2', '3 stdout 3']);
  spool.ack(3);
  appendFileSync(spool.rawPath('stdout'), '6\n');
  spool.poll();
  assert.deepEqual(lines(spool), ['4 system 2 lines dropped: the log spool was full (300 bytes of unshipped logs on this node)', '5 stdout 6']);
});

test('a fully acked spool is compacted without losing its place', () => {
  const path = join(dir.path, 't4');
  const spool = new LogSpool('t4', path, { secretValues: [] });
  const big = `${'x'.repeat(1000)}\n`.repeat(5000); // ~5 MB of spool records
  appendFileSync(spool.rawPath('stdout'), big);
  while (spool.poll() > 0);
  spool.ack(5000);
  assert.deepEqual(segments(path).map((f) => statSync(join(path, f)).size < 1000), [true], 'compacted to one checkpoint');
  appendFileSync(spool.rawPath('stdout'), 'after\n');
  const reopened = new LogSpool('t4', path, { secretValues: [] });
  reopened.poll();
  assert.deepEqual(lines(reopened), ['5001 stdout after']);
});

test('raw bytes are freed once their lines are in the spool: the secret leaves the disk, later output and offsets stay', { timeout: 10_000 }, async () => {
  const path = join(dir.path, 't5');
  const spool = new LogSpool('t5', path, { secretValues: ['s3cret-value'] });
  // As the app gets it: an append-mode descriptor it keeps writing to.
  const fd = openSync(spool.rawPath('stdout'), 'a', 0o600);
  appendFileSync(fd, 'the key is s3cret-value\n'.repeat(1000));
  spool.poll();
  await waitFor('the raw secret freed', () => (spool.poll(), !readFileSync(spool.rawPath('stdout'), 'utf8').includes('s3cret-value')));
  appendFileSync(fd, 'after the hole\n');
  closeSync(fd);
  spool.poll();
  assert.deepEqual(lines(spool).slice(-2), ['1000 stdout the key is [redacted]', '1001 stdout after the hole']);
  assert.ok(readFileSync(spool.rawPath('stdout'), 'utf8').endsWith('after the hole\n'), 'unread bytes are kept');
  const reopened = new LogSpool('t5', path, { secretValues: ['s3cret-value'] });
  assert.deepEqual(lines(reopened).slice(-1), ['1001 stdout after the hole'], 'a restarted agent resumes at the same offsets');
  for (const file of ['stdout.raw', segments(path).at(-1)!, 'acked']) {
    if (file === 'acked') spool.ack(1);
    assert.equal(statSync(join(path, file)).mode & 0o777, 0o600, `${file} is the agent's only`);
  }
  assert.equal(statSync(path).mode & 0o777, 0o700);
});

test('with its secrets not known yet (a restarted agent before the desired state), raw output is left unread', () => {
  const spool = new LogSpool('t6', join(dir.path, 't6'), { secretValues: undefined });
  appendFileSync(spool.rawPath('stdout'), 'token s3cret-value\n');
  assert.equal(spool.poll(true), 0);
  spool.setSecrets(['s3cret-value']);
  assert.equal(spool.poll(), 1);
  assert.deepEqual(lines(spool), ['1 stdout token [redacted]']);
});

test('a backlog of 150,000 unshipped lines is kept on disk (bounded by bytes, not lines) and shipped in order, once, a window at a time', () => {
  const path = join(dir.path, 't7');
  const budget = { limitBytes: 256 << 20, usedBytes: 0 };
  const spool = new LogSpool('t7', path, { secretValues: [], budget });
  const total = 150_000;
  appendFileSync(spool.rawPath('stdout'), Array.from({ length: total }, (_, i) => `line ${i + 1}\n`).join(''));
  while (spool.poll() > 0); // the shipper is behind: nothing acked yet
  assert.ok(segments(path).length > 1, `rotated into segments: ${segments(path).join(', ')}`);
  let expected = 1;
  for (let batch = spool.pending(1_000); batch.length; batch = spool.pending(1_000)) {
    for (const e of batch) assert.equal(e.line, `line ${expected++}`);
    spool.ack(batch.at(-1)!.seq);
  }
  assert.equal(expected - 1, total, 'every line once, in order');
  assert.equal(segments(path).length, 1, 'acknowledged segments are deleted');
  assert.ok(budget.usedBytes < 1 << 20, `${budget.usedBytes} bytes left counted`);
  const reopened = new LogSpool('t7', path, { secretValues: [], budget: { limitBytes: 256 << 20, usedBytes: 0 } });
  appendFileSync(reopened.rawPath('stdout'), 'after\n');
  reopened.poll();
  assert.deepEqual(lines(reopened), [`${total + 1} stdout after`]);
});

test('raw files whose every byte is spooled start over empty before the next process, and the offsets with them', async () => {
  const path = join(dir.path, 't8');
  const spool = new LogSpool('t8', path, { secretValues: [] });
  appendFileSync(spool.rawPath('stdout'), 'one\ntwo\n');
  appendFileSync(spool.rawPath('stderr'), 'half a li');
  spool.poll();
  // The process exited and a restart follows (once the freeing of spooled raw bytes in progress is done).
  await waitFor('stdout rotated', () => (spool.rotateRaw(), statSync(spool.rawPath('stdout')).size === 0));
  assert.equal(statSync(spool.rawPath('stderr')).size, 9, 'an unread (partial) line stays');
  appendFileSync(spool.rawPath('stdout'), 'three\n');
  const reopened = new LogSpool('t8', path, { secretValues: [] });
  reopened.poll();
  assert.deepEqual(lines(reopened), ['1 stdout one', '2 stdout two', '3 stdout three']);
});

test('lines that JSON must escape reach the batches as printed', () => {
  const spool = new LogSpool('t9', join(dir.path, 't9'), { secretValues: [] });
  const printed = ['say "hi" \\ back\\slash', 'tab\there \u0001 ctl', 'ünïcödé ✓ 😀', 'looks like a record: ,"o":[1,2]} and "l":"x"', '{"s":1,"t":2,"k":"stdout","l":"fake","o":[0,0]}', ''];
  appendFileSync(spool.rawPath('stdout'), printed.map((l) => `${l}\n`).join(''));
  spool.poll();
  assert.deepEqual(spool.pending().map((e) => e.line), printed);
  const [batch] = spool.batches(1);
  assert.deepEqual((JSON.parse(batch!.body.toString()) as LogBatch).entries.map((e) => Object.keys(e)), printed.map(() => ['seq', 'ts', 'stream', 'line']));
});

test('records in another shape (keys in another order, an older agent) are still read back', () => {
  const path = join(dir.path, 't10');
  const first = new LogSpool('t10', path, { secretValues: [] });
  first.note('created');
  appendFileSync(join(path, segments(path).at(-1)!), `${JSON.stringify({ k: 'stderr', l: 'reordered', s: 2, t: 5, o: [0, 0] })}\n`);
  const reopened = new LogSpool('t10', path, { secretValues: [] });
  assert.deepEqual(lines(reopened), ['1 system created', '2 stderr reordered']);
});

test('a backlog is held in memory only as the batches asked for, each a body of its own that nothing changes afterwards', () => {
  const spool = new LogSpool('t11', join(dir.path, 't11'), { secretValues: [] });
  const line = (n: number) => `line ${n} ${'y'.repeat(200)}`;
  const total = 20_000; // ~4 MB: many batches of MAX_BATCH_BYTES
  appendFileSync(spool.rawPath('stdout'), Array.from({ length: total }, (_, i) => `${line(i + 1)}\n`).join(''));
  while (spool.poll() > 0);
  const sent = spool.batches(4);
  assert.equal(sent.length, 4);
  assert.ok(spool.heldBytes <= 4 * MAX_BATCH_BYTES, `${spool.heldBytes} bytes held for 4 batches`);
  assert.ok(sent.every((b) => b.full && b.body.length <= MAX_BATCH_BYTES));
  const copies = sent.map((b) => Buffer.from(b.body));
  // While those are in flight (held, as the shipper does): more output, an ack of the first, the next batches built.
  for (const b of sent) b.hold();
  appendFileSync(spool.rawPath('stdout'), 'more\n');
  spool.poll();
  spool.ack(sent[0]!.last);
  const next = spool.batches(4);
  assert.equal(next[0], sent[1], 'unacked batches come back as they were');
  assert.ok(spool.heldBytes <= 4 * MAX_BATCH_BYTES);
  sent.forEach((b, i) => assert.ok(b.body.equals(copies[i]!), `batch ${i} unchanged while held`));
  assert.ok(next.every((b) => b.body.buffer !== sent[0]!.body.buffer), 'an acked batch still held (in flight) lends its buffer to no other');
  for (const b of sent) b.release();
  assert.throws(() => sent[0]!.body, /used after its release/);
  let expected = sent[0]!.last + 1;
  for (let batch = spool.batches(4); batch.length; batch = spool.batches(4)) {
    for (const e of (JSON.parse(batch[0]!.body.toString()) as LogBatch).entries) {
      assert.equal(e.seq, expected);
      assert.equal(e.line, e.seq > total ? 'more' : line(e.seq));
      expected++;
    }
    spool.ack(batch[0]!.last);
  }
  assert.equal(expected - 1, total + 1, 'every line once, in order');
  assert.equal(spool.heldBytes, 0);
});
