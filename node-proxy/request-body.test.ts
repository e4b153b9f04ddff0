import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { RequestBody, UploadWatch, type BodySource } from './request-body.js';

/** The server's side of a body, driven by the test. */
class Source implements BodySource {
  handler: ((chunk: Buffer, isLast: boolean) => void) | null = null;
  paused = false;
  onData(handler: (chunk: Buffer, isLast: boolean) => void): void {
    this.handler = handler;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  send(text: string, isLast = false): void {
    this.handler!(Buffer.from(text), isLast);
  }
}

/** Read through a function: the asserts above narrow `error` to null. */
const errorOf = (body: RequestBody) => body.error;

function watched(t: { after(fn: () => void): void }, windowMs = 10_000, rate = 1024) {
  const watch = new UploadWatch(windowMs, rate);
  t.after(() => watch.close());
  return watch;
}

test('a Content-Length body arriving in pieces, before and after it is asked for, is buffered whole', async (t) => {
  const source = new Source();
  const body = new RequestBody(source, 11, 1_000, watched(t));
  source.send('hello');
  const whole = body.buffer();
  source.send(' world', true);
  assert.equal((await whole).toString(), 'hello world');
});

test('a streamed body pauses the client while the reader is full and resumes it when read', async (t) => {
  const source = new Source();
  const body = new RequestBody(source, 'chunked', 10_000_000, watched(t));
  const stream = body.readable();
  source.send('x'.repeat(64 * 1024));
  assert.equal(source.paused, true);
  stream.read();
  assert.equal(source.paused, false);
  source.send('end', true);
  const rest: Buffer[] = [];
  stream.on('data', (c: Buffer) => rest.push(c));
  await once(stream, 'end');
  assert.equal(body.received, 64 * 1024 + 3);
});

test('a chunked body over the limit fails with CLIENT_BODY_TOO_LARGE', async (t) => {
  const source = new Source();
  const body = new RequestBody(source, 'chunked', 10, watched(t));
  const stream = body.readable();
  const failed = once(stream, 'error');
  source.send('0123456789abc');
  assert.equal(((await failed)[0] as { code: string }).code, 'CLIENT_BODY_TOO_LARGE');
  assert.equal(body.ended, true);
});

test('upload watch: a trickle below the minimum rate over a whole window fails; a fast upload or one the proxy paused does not', async (t) => {
  const watch = watched(t, 10_000, 1024);
  const [slowSource, fastSource, pausedSource] = [new Source(), new Source(), new Source()];
  const slow = new RequestBody(slowSource, 100_000, 1_000_000, watch);
  const fast = new RequestBody(fastSource, 100_000, 1_000_000, watch);
  const paused = new RequestBody(pausedSource, 'chunked', 10_000_000, watch);
  const slowBuffer = slow.buffer();
  fast.buffer().catch(() => {});
  paused.readable(); // never read: the proxy pauses this client once its buffer is full
  const start = slow.windowStart;
  slowSource.send('a');
  fastSource.send('x'.repeat(20_000));
  pausedSource.send('p'.repeat(64 * 1024));
  assert.equal(pausedSource.paused, true);
  watch.check(start + 5_000);
  assert.equal(slow.error, null, 'half a window: too early to judge');
  watch.check(start + 10_000);
  await assert.rejects(slowBuffer, { code: 'CLIENT_BODY_TIMEOUT' });
  assert.equal(fast.error, null);
  watch.check(start + 30_000);
  assert.equal(paused.error, null);
  assert.equal(errorOf(fast)?.code, 'CLIENT_BODY_TIMEOUT', 'a fast start then a stall fails in a later window');
});
