/**
 * Slow clients must not take an app offline (issue 9 point 4): a request queued for a busy backend
 * waits a bounded time, one client address gets only its share of a backend's connections, and an
 * upload trickled a byte at a time is cut off and gives its connection back. Real proxy, real
 * node:http app; client addresses come from X-Forwarded-For through a trusted peer (127.0.0.1).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startProxy, type ProxyConfig } from './proxy.js';
import {
  createTestDb,
  eventually,
  RawClient,
  seedLiveApp,
  seedNode,
  startRecordingBackend,
  type RawResponse,
  type RecordingBackend,
  type TestDb,
} from './testing.js';

const domain = 'apps.test';
const APP = `app.${domain}`;
const LIMIT = { timeout: 30_000 };

let t: TestDb;
let app: RecordingBackend;

before(async () => {
  t = await createTestDb();
  const node = await seedNode(t);
  app = await startRecordingBackend('app');
  await seedLiveApp(t, 'app', node, [app.port]);
}, { timeout: 60_000 });

after(async () => {
  await app?.kill();
  await t?.drop();
}, { timeout: 30_000 });

/** A proxy with 4 connections per backend that believes X-Forwarded-For from 127.0.0.1. */
async function withProxy(cfg: Partial<ProxyConfig>, fn: (port: number) => Promise<void>): Promise<void> {
  app.requests.length = 0;
  const proxy = await startProxy({
    db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, log: () => {},
    upstreamConnections: 4, trustedProxies: ['127.0.0.1'], ...cfg,
  });
  try {
    await fn(proxy.port);
  } finally {
    await proxy.close();
    await app.idle();
  }
}

/** Opens a connection for client `from` and sends `head` (and `body`) on it. */
async function request(port: number, from: string, head: string, body = ''): Promise<RawClient> {
  const client = await RawClient.open(port);
  client.write(`${head}\r\nHost: ${APP}\r\nX-Forwarded-For: ${from}\r\n\r\n${body}`);
  return client;
}

const hanging = () => app.requests.filter((r) => r.url.startsWith('/hang')).length;
const code = (answer: RawResponse | null) => (answer ? (JSON.parse(answer.body.toString()) as { error?: { code: string } }).error?.code : 'closed');

test('a request queued behind a busy backend gets 503 with Retry-After once the queue deadline passes', LIMIT, async () => {
  await withProxy({ queueTimeoutMs: 300, maxPerClient: 4 }, async (port) => {
    const busy = await Promise.all([1, 2, 3, 4].map((n) => request(port, `10.0.0.${n}`, `GET /hang/${n} HTTP/1.1`)));
    await eventually('the 4 connections to be busy', async () => hanging() === 4);
    const queued = await request(port, '10.0.0.5', 'GET /queued HTTP/1.1');
    const answer = await queued.next();
    assert.equal(answer?.status, 503);
    assert.equal(code(answer), 'app_busy');
    assert.match(answer!.headers['retry-after'] ?? '', /^\d+$/);
    for (const c of [...busy, queued]) c.destroy();
  });
  assert.ok(!app.requests.some((r) => r.url === '/queued'));
});

test('one client address gets only its share of a backend: past it 429 at once, and other clients are still served', LIMIT, async () => {
  await withProxy({ maxPerClient: 2, queueTimeoutMs: 60_000 }, async (port) => {
    const greedy = await Promise.all([1, 2].map((n) => request(port, '10.0.1.1', `GET /hang/${n} HTTP/1.1`)));
    await eventually('the first two to reach the app', async () => hanging() === 2);
    const more = await Promise.all([3, 4].map((n) => request(port, '10.0.1.1', `GET /hang/${n} HTTP/1.1`)));
    for (const c of more) {
      const answer = await c.next();
      assert.equal(answer?.status, 429);
      assert.equal(code(answer), 'too_many_requests');
      assert.match(answer!.headers['retry-after'] ?? '', /^\d+$/);
    }
    const other = await request(port, '10.0.1.2', 'GET /other HTTP/1.1');
    assert.equal((await other.next())?.status, 200);
    for (const c of [...greedy, ...more, other]) c.destroy();
  });
  assert.equal(hanging(), 2);
});

test('uploads trickled a byte at a time are cut off with 408 and give their connection back', LIMIT, async () => {
  await withProxy({ bodyWindowMs: 200, minBodyRate: 1024, maxPerClient: 4, queueTimeoutMs: 60_000 }, async (port) => {
    // Chunked (streamed to the app: each holds a connection) and small Content-Length (buffered) ones.
    const slow = await Promise.all([
      ...[1, 2, 3, 4].map((n) => request(port, `10.0.2.${n}`, `POST /slow/${n} HTTP/1.1\r\nTransfer-Encoding: chunked`, '1\r\na\r\n')),
      request(port, '10.0.2.5', 'POST /slow/5 HTTP/1.1\r\nContent-Length: 1000', 'a'),
    ]);
    let sent = 0;
    const trickle = setInterval(() => {
      sent++;
      for (const [i, c] of slow.entries()) if (!c.closed) c.write(i < 4 ? '1\r\nb\r\n' : 'b');
    }, 50);
    try {
      // All 4 connections are held by the chunked uploads; this one waits for one of them.
      const after = await request(port, '10.0.2.9', 'GET /after HTTP/1.1');
      for (const c of slow) {
        const answer = await c.next();
        assert.equal(answer?.status, 408);
        assert.equal(code(answer), 'request_timeout');
        await c.whenClosed;
      }
      assert.equal((await after.next())?.status, 200);
      after.destroy();
      assert.ok(sent > 0);
    } finally {
      clearInterval(trickle);
    }
  });
  assert.deepEqual(app.requests.map((r) => r.url), ['/after']);
});
