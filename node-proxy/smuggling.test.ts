/**
 * Request smuggling through the proxy (issue 9 point 3), with raw sockets: each shape is written as
 * exact bytes, the answers are read with a strict parser, and the app is a node:http server (strict
 * parser) that records every request it parsed. After each test the proxy is closed and the app's
 * connections are waited out, so anything the proxy forwarded has been parsed before the assertions.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startProxy, type ProxyConfig } from './proxy.js';
import {
  createTestDb,
  RawClient,
  seedLiveApp,
  seedNode,
  startRecordingBackend,
  type RecordingBackend,
  type TestDb,
} from './testing.js';

const domain = 'apps.test';
const APP = `app.${domain}`;
const OTHER = `other.${domain}`;
const LIMIT = { timeout: 20_000 };
/** A complete request for the app: what an attacker hides where the proxy should see body bytes. */
const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: ${APP}\r\n\r\n`;

let t: TestDb;
let app: RecordingBackend;
let other: RecordingBackend;

before(async () => {
  t = await createTestDb();
  const node = await seedNode(t);
  app = await startRecordingBackend('app');
  other = await startRecordingBackend('other');
  for (const [slug, backend] of [['app', app], ['other', other]] as const) await seedLiveApp(t, slug, node, [backend.port]);
}, { timeout: 60_000 });

after(async () => {
  await app?.kill();
  await other?.kill();
  await t?.drop();
}, { timeout: 30_000 });

/**
 * Runs `fn` against a fresh proxy, then closes it and waits until the apps have no connection
 * left: from then on their records are final.
 */
async function withProxy(fn: (port: number) => Promise<void>, cfg: Partial<ProxyConfig> = {}): Promise<void> {
  app.requests.length = 0;
  other.requests.length = 0;
  const proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, log: () => {}, ...cfg });
  try {
    await fn(proxy.port);
  } finally {
    await proxy.close();
    await app.idle();
    await other.idle();
  }
}

const urls = (b: RecordingBackend) => b.requests.map((r) => `${r.method} ${r.url}`);

test('Connection: content-length with a body over 64 KiB: the app gets one request with the whole body, never the request hidden in it', LIMIT, async () => {
  const body = (SMUGGLED + 'x'.repeat(70_000)).slice(0, 70_000);
  await withProxy(async (port) => {
    const client = await RawClient.open(port);
    client.write(`POST /upload HTTP/1.1\r\nHost: ${APP}\r\nConnection: content-length\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const answer = await client.next();
    assert.equal(answer?.status, 200);
    assert.deepEqual(JSON.parse(answer!.body.toString()).url, '/upload');
    assert.equal(JSON.parse(answer!.body.toString()).bodyLength, body.length);
    // Another client on the (pooled) app connection gets its own answer.
    const victim = await RawClient.open(port);
    victim.write(`GET /victim HTTP/1.1\r\nHost: ${APP}\r\n\r\n`);
    assert.equal(JSON.parse((await victim.next())!.body.toString()).url, '/victim');
    client.destroy();
    victim.destroy();
  });
  assert.deepEqual(urls(app), ['POST /upload', 'GET /victim']);
  assert.equal(app.requests[0]!.body.toString('latin1'), body);
  assert.equal(app.requests[0]!.headers['content-length'], String(body.length));
});

test('a header named in Connection never removes Host or the framing: the app still gets Host and a Content-Length', LIMIT, async () => {
  await withProxy(async (port) => {
    const client = await RawClient.open(port);
    client.write(`POST /named HTTP/1.1\r\nHost: ${APP}\r\nConnection: host, content-length, transfer-encoding\r\nContent-Length: 5\r\n\r\nhello`);
    assert.equal((await client.next())?.status, 200);
    client.destroy();
  });
  assert.deepEqual(urls(app), ['POST /named']);
  assert.equal(app.requests[0]!.headers.host, APP);
  assert.equal(app.requests[0]!.headers['content-length'], '5');
  assert.equal(app.requests[0]!.body.toString(), 'hello');
});

test('two different Content-Lengths: 400 (when the answer can still be delivered) and the connection is closed; nothing reaches the app', LIMIT, async () => {
  await withProxy(async (port) => {
    // Nothing after the body: the 400 is delivered, then the connection closes.
    const client = await RawClient.open(port);
    client.write(`POST /dup HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello`);
    const answer = await client.next();
    assert.equal(answer?.status, 400);
    assert.equal(JSON.parse(answer!.body.toString()).error.code, 'bad_request');
    await client.whenClosed;
    // A request after the first length, in the same packet: at most the 400, and it is never forwarded.
    const attacker = await RawClient.open(port);
    attacker.write(`POST /dup HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 5\r\nContent-Length: ${5 + SMUGGLED.length}\r\n\r\nhello${SMUGGLED}`);
    const answers = await attacker.untilClosed();
    assert.ok(answers.length <= 1 && answers.every((a) => a.status === 400), `answers: ${answers.map((a) => a.status).join(',')}`);
  });
  assert.deepEqual(urls(app), []);
});

test('two Host headers: 400, nothing reaches either app, and the connection is closed', LIMIT, async () => {
  await withProxy(async (port) => {
    const client = await RawClient.open(port);
    client.write(`GET /twohosts HTTP/1.1\r\nHost: ${APP}\r\nHost: ${OTHER}\r\n\r\n`);
    assert.equal((await client.next())?.status, 400);
    await client.whenClosed;
  });
  assert.deepEqual([...urls(app), ...urls(other)], []);
});

test('a WebSocket upgrade with two Host headers: 400, and no app is asked to upgrade', LIMIT, async () => {
  await withProxy(async (port) => {
    const client = await RawClient.open(port);
    client.write(`GET /ws HTTP/1.1\r\nHost: ${APP}\r\nHost: ${OTHER}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    assert.equal((await client.next())?.status, 400);
    client.destroy();
  });
  assert.deepEqual([...urls(app), ...urls(other)], []);
});

test('Transfer-Encoding: chunked in any letter case: the body is decoded, re-framed by the proxy and reaches the app whole', LIMIT, async () => {
  const cases = ['Chunked', 'CHUNKED', 'chunked'];
  await withProxy(async (port) => {
    for (const coding of cases) {
      const client = await RawClient.open(port);
      client.write(`POST /te/${coding} HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: ${coding}\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`);
      const answer = await client.next();
      assert.equal(answer?.status, 200, coding);
      assert.equal(JSON.parse(answer!.body.toString()).body, 'hello world', coding);
      client.destroy();
    }
  });
  assert.deepEqual(urls(app), cases.map((c) => `POST /te/${c}`));
  for (const r of app.requests) assert.equal(r.headers['transfer-encoding'], 'chunked');
});

test('a transfer coding other than chunked: 400 and the connection is closed; nothing reaches the app', LIMIT, async () => {
  await withProxy(async (port) => {
    for (const coding of ['gzip, chunked', 'identity']) {
      const client = await RawClient.open(port);
      client.write(`POST /coding HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: ${coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
      assert.equal((await client.next())?.status, 400, coding);
      await client.whenClosed;
    }
  });
  assert.deepEqual(urls(app), []);
});

// Chunk framing only a lenient decoder accepts: node:http's parser refuses it, so the client gets a
// 400 and its connection is closed, and the app never parses a complete request (a body already
// being forwarded is cut off with the app's connection). An unknown host is answered 404 from its
// head alone, before the body is parsed; the bad body then closes the connection all the same.
for (const [shape, body] of [
  ['bare LF after a chunk size', `5\nhello\r\n0\r\n\r\n${SMUGGLED}`],
  ['bare LF after the last chunk size', `5\r\nhello\r\n0\n\r\n${SMUGGLED}`],
  ['chunk data not followed by CRLF', `5\r\nhelloXX0\r\n\r\n${SMUGGLED}`],
]) {
  test(`${shape}: 400, the connection closed, nothing reaches the app`, LIMIT, async () => {
    await withProxy(async (port) => {
      for (const host of [`nowhere.${domain}`, APP]) {
        const client = await RawClient.open(port);
        client.write(`POST /lenient HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
        const answers = await client.untilClosed();
        assert.deepEqual(answers.map((a) => a.status), [host === APP ? 400 : 404], host);
      }
    });
    assert.deepEqual(urls(app), []);
  });
}

test('pipelined requests (two GETs, three GETs, a GET then a POST with a body): each answered once, in order', LIMIT, async () => {
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`;
  const post = (path: string, body: string) => `POST ${path} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const cases: [string, string[]][] = [
    [get('/p2/a') + get('/p2/b'), ['/p2/a', '/p2/b']],
    [get('/p3/a') + get('/p3/b') + get('/p3/c'), ['/p3/a', '/p3/b', '/p3/c']],
    [get('/pp/a') + post('/pp/b', 'posted body') + get('/pp/c'), ['/pp/a', '/pp/b', '/pp/c']],
  ];
  await withProxy(async (port) => {
    for (const [bytes, paths] of cases) {
      const client = await RawClient.open(port);
      client.write(bytes); // one write: the requests arrive together
      for (const path of paths) {
        const answer = await client.next();
        assert.equal(answer?.status, 200, path);
        assert.equal(JSON.parse(answer!.body.toString()).url, path);
      }
      client.destroy();
    }
  });
  assert.deepEqual(urls(app).sort(), cases.flatMap(([, paths]) => paths).map((p) => `${p.startsWith('/pp/b') ? 'POST' : 'GET'} ${p}`).sort());
  assert.equal(app.requests.find((r) => r.url === '/pp/b')!.body.toString(), 'posted body');
});

test('X-Forwarded-For / X-Real-IP / X-Forwarded-Proto / X-Forwarded-Host from a client are replaced with what the proxy saw', LIMIT, async () => {
  const spoofed = 'X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: bank.example\r\n';
  await withProxy(async (port) => {
    const client = await RawClient.open(port);
    client.write(`GET /xff HTTP/1.1\r\nHost: ${APP}\r\n${spoofed}\r\n`);
    assert.equal((await client.next())?.status, 200);
    client.destroy();
  });
  const h = app.requests[0]!.headers;
  assert.deepEqual([h['x-forwarded-for'], h['x-real-ip'], h['x-forwarded-proto'], h['x-forwarded-host']], ['127.0.0.1', '127.0.0.1', 'http', APP]);
});

test('from a configured trusted proxy the forwarding headers are kept (X-Forwarded-For appended) and the client is the nearest untrusted address', LIMIT, async () => {
  await withProxy(async (port) => {
    const client = await RawClient.open(port);
    client.write(`GET /trusted HTTP/1.1\r\nHost: ${APP}\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.1.2.3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n\r\n`);
    assert.equal((await client.next())?.status, 200);
    client.destroy();
  }, { trustedProxies: ['127.0.0.1', '10.0.0.0/8'] });
  const h = app.requests[0]!.headers;
  assert.deepEqual([h['x-forwarded-for'], h['x-real-ip'], h['x-forwarded-proto'], h['x-forwarded-host']], ['6.6.6.6, 203.0.113.9, 10.1.2.3, 127.0.0.1', '203.0.113.9', 'https', 'shop.example']);
});
