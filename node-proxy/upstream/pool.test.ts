import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import type { ResponseSink, UpstreamError, UpstreamRequest } from './connection.js';
import { UpstreamPool, type Exchange, type PoolOptions } from './pool.js';
import { requestHead } from './request-head.js';
import type { ResponseHead } from './response-parser.js';
import { Upstreams } from './upstreams.js';

// ---- Helpers ----

const OPTS: PoolOptions = { maxConnections: 8, keepAliveMs: 10_000, connectMs: 2_000, headersMs: 2_000, bodyIdleMs: 2_000, queueMs: 60_000, maxPerClient: 8 };
/** Every test is short; this only turns a hang into a failure. */
const LIMIT = { timeout: 5_000 };

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function get(path = '/', retryable = true): UpstreamRequest {
  return { method: 'GET', head: requestHead('GET', path, { host: 'backend.test' }), body: undefined, chunked: false, retryable };
}

interface Result {
  head: ResponseHead | undefined;
  body: Buffer;
  error: UpstreamError | undefined;
}

interface Call {
  exchange: Exchange;
  /** Settles at onEnd or onError (never, for an aborted exchange). */
  done: Promise<Result>;
  /** What the sink saw so far, in order: 'head', 'body', 'end', 'error:<code>'. */
  events: string[];
  chunks: Buffer[];
}

/** Sends a request through the pool with a sink that records everything. */
function call(pool: UpstreamPool, request: UpstreamRequest, onBody?: (chunk: Buffer, call: Call) => boolean): Call {
  let head: ResponseHead | undefined;
  const events: string[] = [];
  const chunks: Buffer[] = [];
  let resolve!: (r: Result) => void;
  const done = new Promise<Result>((r) => (resolve = r));
  const c = { events, chunks, done } as Call;
  const sink: ResponseSink = {
    onHead(h) {
      head = h;
      events.push('head');
    },
    onBody(chunk) {
      events.push('body');
      chunks.push(Buffer.from(chunk));
      return onBody ? onBody(chunk, c) : true;
    },
    onEnd() {
      events.push('end');
      resolve({ head, body: Buffer.concat(chunks), error: undefined });
    },
    onError(err) {
      events.push(`error:${err.code}`);
      resolve({ head, body: Buffer.concat(chunks), error: err });
    },
  };
  c.exchange = pool.request(request, sink);
  return c;
}

function newPool(t: TestContext, port: number, opts: Partial<PoolOptions> = {}): UpstreamPool {
  const pool = new UpstreamPool('127.0.0.1', port, { ...OPTS, ...opts });
  t.after(() => pool.destroy());
  return pool;
}

/** Runs the pool's sweeper often (the deadlines are what a test checks, not the sweep period). */
function sweepOften(t: TestContext, pool: UpstreamPool): void {
  const timer = setInterval(() => pool.sweep(Date.now()), 20);
  t.after(() => clearInterval(timer));
}

interface RawConn {
  socket: Socket;
  index: number;
  /** Request heads received on this connection so far. */
  requests: string[];
  closed: Promise<void>;
}

interface RawServer {
  port: number;
  conns: RawConn[];
  /** Resolves at the next request head any connection receives. */
  nextRequest(): Promise<RawConn>;
}

/**
 * A TCP server that answers with exactly the bytes a test writes. `onRequest` is called for each
 * request head (bodiless requests only) with the connection and the request's index on it.
 */
async function rawServer(t: TestContext, onRequest: (conn: RawConn, n: number) => void): Promise<RawServer> {
  const conns: RawConn[] = [];
  let waiters: ((c: RawConn) => void)[] = [];
  const server = createNetServer((socket) => {
    const conn: RawConn = { socket, index: conns.length, requests: [], closed: once(socket, 'close').then(() => {}) };
    conns.push(conn);
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buf = Buffer.concat([buf, data]);
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 4);
        conn.requests.push(head);
        const w = waiters;
        waiters = [];
        for (const f of w) f(conn);
        if (!socket.destroyed && !socket.writableEnded) onRequest(conn, conn.requests.length - 1);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const c of conns) c.socket.destroy();
    server.close();
    await once(server, 'close');
  });
  return {
    port: (server.address() as AddressInfo).port,
    conns,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

interface HttpServer {
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  sockets: Socket[];
}

async function httpServer(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<HttpServer> {
  const server = createHttpServer(handler);
  const info: HttpServer = { port: 0, connections: 0, sockets: [] };
  server.on('connection', (socket: Socket) => {
    info.connections++;
    info.sockets.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  info.port = (server.address() as AddressInfo).port;
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  return info;
}

/** A request's body; what arrived if the client went away (the test then fails on its own terms). */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for await (const p of req) parts.push(p as Buffer);
  } catch {
    // aborted
  }
  return Buffer.concat(parts);
}

const answer = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

// ---- Keep-alive and the connection limit ----

test('sequential requests reuse one keep-alive connection', LIMIT, async (t) => {
  const server = await httpServer(t, (req, res) => res.end(`hello ${req.url}`));
  const pool = newPool(t, server.port);
  for (let i = 0; i < 5; i++) {
    const r = await call(pool, get(`/${i}`)).done;
    assert.equal(r.error, undefined);
    assert.equal(r.head?.status, 200);
    assert.equal(r.body.toString(), `hello /${i}`);
  }
  assert.equal(server.connections, 1);
  assert.equal(pool.connections.size, 1);
  assert.equal(pool.inflight, 0);
});

test('HEAD on a keep-alive connection: the Content-Length is not waited for, the next request reuses it', LIMIT, async (t) => {
  const server = await httpServer(t, (req, res) => {
    res.setHeader('content-length', '5');
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  });
  const pool = newPool(t, server.port);
  const head = await call(pool, { ...get(), method: 'HEAD', head: requestHead('HEAD', '/', { host: 'b' }) }).done;
  assert.equal(head.error, undefined);
  assert.equal(head.head?.length, 5);
  assert.equal(head.body.length, 0);
  const r = await call(pool, get()).done;
  assert.equal(r.body.toString(), 'hello');
  assert.equal(server.connections, 1);
});

test('concurrency is capped at maxConnections; the rest wait in the queue and are all answered', LIMIT, async (t) => {
  const N = 7;
  const MAX = 2;
  let received = 0;
  let open = 0;
  let maxOpen = 0;
  let held: ServerResponse[] = [];
  const server = await httpServer(t, (req, res) => {
    received++;
    open++;
    maxOpen = Math.max(maxOpen, open);
    held.push(res);
    // Answer in batches: a pool without the cap would have all N here at once.
    if (held.length === MAX || received === N) {
      for (const r of held) {
        open--;
        r.end(`answer ${req.url}`);
      }
      held = [];
    }
  });
  const pool = newPool(t, server.port, { maxConnections: MAX });
  const calls = Array.from({ length: N }, (_, i) => call(pool, get(`/${i}`)));
  assert.equal(pool.connections.size, MAX);
  assert.equal(pool.inflight, N);
  const results = await Promise.all(calls.map((c) => c.done));
  for (const r of results) {
    assert.equal(r.error, undefined);
    assert.equal(r.head?.status, 200);
  }
  assert.equal(received, N);
  assert.equal(maxOpen, MAX);
  assert.equal(server.connections, MAX);
  assert.equal(pool.inflight, 0);
  assert.equal(pool.connections.size, MAX);
});

test('a request queued longer than queueMs fails with UPSTREAM_QUEUE_TIMEOUT at the next sweep; one queued less long stays', LIMIT, async (t) => {
  let hold: RawConn | null = null;
  const server = await rawServer(t, (conn, n) => {
    if (n === 0) hold = conn;
    else conn.socket.write(answer(`request ${n}`));
  });
  const pool = newPool(t, server.port, { maxConnections: 1, queueMs: 1_000 });
  const first = call(pool, get('/first'));
  const old = call(pool, get('/old'));
  await server.nextRequest();
  // Queued at least a millisecond after /old, so a sweep can fall between their deadlines.
  while (Date.now() <= old.exchange.queuedAt) await tick();
  const young = call(pool, get('/young'));
  const deadline = old.exchange.queuedAt + 1_000;
  pool.sweep(deadline);
  assert.deepEqual(old.events, [], 'not overdue at its deadline');
  pool.sweep(young.exchange.queuedAt + 1_000);
  assert.equal((await old.done).error?.code, 'UPSTREAM_QUEUE_TIMEOUT');
  assert.deepEqual(young.events, []);
  assert.equal(pool.inflight, 2);
  hold!.socket.write(answer('request 0'));
  assert.equal((await first.done).body.toString(), 'request 0');
  assert.equal((await young.done).body.toString(), 'request 1');
  assert.deepEqual(server.conns[0]!.requests.map((h) => h.split(' ')[1]), ['/first', '/young']);
  assert.equal(pool.inflight, 0);
});

test('one client has at most maxPerClient requests sent or queued: more fail with UPSTREAM_CLIENT_LIMIT at once, other clients are unaffected, the share frees as answers end', LIMIT, async (t) => {
  const held: RawConn[] = [];
  const server = await rawServer(t, (conn) => held.push(conn));
  const pool = newPool(t, server.port, { maxConnections: 1, maxPerClient: 2 });
  const from = (client: string, path: string) => call(pool, { ...get(path), client });
  const a1 = from('10.0.0.1', '/a1');
  const a2 = from('10.0.0.1', '/a2'); // queued behind a1: counts too
  const a3 = from('10.0.0.1', '/a3');
  assert.equal((await a3.done).error?.code, 'UPSTREAM_CLIENT_LIMIT');
  const b1 = from('10.0.0.2', '/b1');
  assert.deepEqual(b1.events, []);
  assert.equal(pool.inflight, 3);
  await server.nextRequest();
  held.shift()!.socket.write(answer('a1'));
  assert.equal((await a1.done).body.toString(), 'a1');
  const a4 = from('10.0.0.1', '/a4');
  assert.deepEqual(a4.events, [], 'a1 ended: 10.0.0.1 has room again');
  for (const c of [a2, b1, a4]) {
    await server.nextRequest();
    held.shift()!.socket.write(answer('ok'));
    assert.equal((await c.done).error, undefined);
  }
  assert.equal(pool.inflight, 0);
  assert.equal(from('10.0.0.1', '/a5').events.length, 0);
});

// ---- Stale keep-alive sockets ----

/** Answers the first request on the first connection, then closes it when the second arrives there. */
async function closesOnSecondRequest(t: TestContext) {
  return rawServer(t, (conn, n) => {
    if (conn.index === 0 && n === 1) conn.socket.destroy();
    else conn.socket.write(answer(`conn ${conn.index} request ${n}`));
  });
}

test('a reused connection the app closed without answering: an idempotent request is retried on a fresh one', LIMIT, async (t) => {
  const server = await closesOnSecondRequest(t);
  const pool = newPool(t, server.port);
  assert.equal((await call(pool, get()).done).body.toString(), 'conn 0 request 0');
  const r = await call(pool, get()).done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.toString(), 'conn 1 request 0');
  assert.equal(server.conns.length, 2);
  assert.equal(pool.inflight, 0);
});

test('a reused connection the app closed without answering: a non-retryable request fails with ECONNRESET', LIMIT, async (t) => {
  const server = await closesOnSecondRequest(t);
  const pool = newPool(t, server.port);
  assert.equal((await call(pool, get()).done).body.toString(), 'conn 0 request 0');
  const c = call(pool, get('/', false));
  const r = await c.done;
  assert.equal(r.error?.code, 'ECONNRESET');
  assert.equal(r.head, undefined);
  assert.deepEqual(c.events, ['error:ECONNRESET']);
  assert.equal(server.conns.length, 1, 'not sent again');
  assert.equal(pool.inflight, 0);
  assert.equal(pool.connections.size, 0);
});

test('the app closes an idle keep-alive socket right after the first response: the next request still succeeds', LIMIT, async (t) => {
  const server = await rawServer(t, (conn, n) => {
    if (conn.index === 0 && n === 0) conn.socket.end(answer('first'));
    else conn.socket.write(answer(`conn ${conn.index}`));
  });
  const pool = newPool(t, server.port);
  assert.equal((await call(pool, get()).done).body.toString(), 'first');
  // Sent at once: the close may or may not have been seen yet; either way the answer must come.
  const r = await call(pool, get()).done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.toString(), 'conn 1');
  // And after the close has certainly been seen.
  await server.conns[0]!.closed;
  await tick();
  const r2 = await call(pool, get()).done;
  assert.equal(r2.error, undefined);
  assert.equal(server.conns.length, 2);
  assert.equal(pool.inflight, 0);
});

test('a retried request that fails again is reported, not retried forever', LIMIT, async (t) => {
  // The second request is dropped on the reused connection, and its retry on the fresh one too.
  const server = await rawServer(t, (conn, n) => {
    if (conn.index === 0 && n === 0) conn.socket.write(answer('first'));
    else conn.socket.destroy();
  });
  const pool = newPool(t, server.port);
  await call(pool, get()).done;
  const r = await call(pool, get()).done;
  assert.equal(r.error?.code, 'ECONNRESET');
  assert.equal(server.conns.length, 2);
  assert.equal(pool.inflight, 0);
});

// ---- Connect and timeouts ----

test('a refused connection fails with ECONNREFUSED', LIMIT, async (t) => {
  const probe = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  const pool = newPool(t, port);
  const r = await call(pool, get()).done;
  assert.equal(r.error?.code, 'ECONNREFUSED');
  assert.equal(pool.inflight, 0);
  assert.equal(pool.connections.size, 0);
});

test('no answer: UPSTREAM_HEADERS_TIMEOUT, and the connection is closed', LIMIT, async (t) => {
  const server = await rawServer(t, () => {});
  const pool = newPool(t, server.port, { headersMs: 300 });
  sweepOften(t, pool);
  const started = Date.now();
  const r = await call(pool, get()).done;
  assert.equal(r.error?.code, 'UPSTREAM_HEADERS_TIMEOUT');
  assert.ok(Date.now() - started >= 290, 'not before the deadline');
  assert.equal(server.conns[0]!.requests.length, 1, 'not retried');
  await server.conns[0]!.closed;
  assert.equal(server.conns.length, 1);
  assert.equal(pool.inflight, 0);
  assert.equal(pool.connections.size, 0);
});

test('no answer on a reused connection: UPSTREAM_HEADERS_TIMEOUT, not a retry', LIMIT, async (t) => {
  const server = await rawServer(t, (conn, n) => {
    if (n === 0) conn.socket.write(answer('first'));
  });
  const pool = newPool(t, server.port, { headersMs: 300 });
  sweepOften(t, pool);
  await call(pool, get()).done;
  const r = await call(pool, get()).done;
  assert.equal(r.error?.code, 'UPSTREAM_HEADERS_TIMEOUT');
  assert.equal(server.conns.length, 1);
});

test("the Upstreams registry's own sweeper enforces the headers timeout", LIMIT, async (t) => {
  const server = await rawServer(t, () => {});
  const upstreams = new Upstreams({ timeoutMs: 300, connectMs: 300, maxConnections: 8, queueMs: 10_000, maxPerClient: 8 });
  t.after(() => upstreams.close());
  const pool = upstreams.get({ key: `127.0.0.1:${server.port}`, address: '127.0.0.1', port: server.port });
  assert.equal(upstreams.get({ key: `127.0.0.1:${server.port}`, address: '127.0.0.1', port: server.port }), pool);
  const c = call(pool, get());
  await server.nextRequest();
  assert.equal(upstreams.inflight({ key: `127.0.0.1:${server.port}`, address: '127.0.0.1', port: server.port }), 1);
  const r = await c.done;
  assert.equal(r.error?.code, 'UPSTREAM_HEADERS_TIMEOUT');
  await server.conns[0]!.closed;
});

test('the body stops after the head: UPSTREAM_BODY_TIMEOUT after onHead', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'));
  const pool = newPool(t, server.port, { bodyIdleMs: 300 });
  sweepOften(t, pool);
  const c = call(pool, get());
  const r = await c.done;
  assert.equal(r.head?.status, 200);
  assert.equal(r.body.toString(), 'partial');
  assert.equal(r.error?.code, 'UPSTREAM_BODY_TIMEOUT');
  assert.equal(c.events[0], 'head');
  assert.equal(c.events.at(-1), 'error:UPSTREAM_BODY_TIMEOUT');
  await server.conns[0]!.closed;
  assert.equal(pool.inflight, 0);
  assert.equal(pool.connections.size, 0);
});

test('the body idle timeout runs from the last read, not from the head: a slow but steady body completes', LIMIT, async (t) => {
  const IDLE = 400;
  const GAP = 250; // between the app's writes: well inside IDLE, but three of them are well past it
  const server = await rawServer(t, (conn) => {
    conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\na');
    let i = 0;
    const timer = setInterval(() => {
      if (conn.socket.destroyed) return clearInterval(timer);
      conn.socket.write('bcd'[i]!);
      if (++i === 3) clearInterval(timer);
    }, GAP);
  });
  const pool = newPool(t, server.port, { bodyIdleMs: IDLE });
  // Right after each read, sweep as if half the idle time had passed since: never overdue if the
  // deadline moved with that read.
  const r = await call(pool, get(), () => {
    setImmediate(() => pool.sweep(Date.now() + IDLE / 2));
    return true;
  }).done;
  assert.equal(r.error, undefined, `failed with ${r.error?.code}`);
  assert.equal(r.body.toString(), 'abcd');
});

// ---- What comes back ----

test('an invalid response: UPSTREAM_BAD_RESPONSE, and the connection is not reused', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => {
    if (conn.index === 0) conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nNo colon here\r\n\r\nok');
    else conn.socket.write(answer('good'));
  });
  const pool = newPool(t, server.port);
  const r = await call(pool, get()).done;
  assert.equal(r.error?.code, 'UPSTREAM_BAD_RESPONSE');
  assert.equal(r.head, undefined);
  await server.conns[0]!.closed;
  assert.equal(pool.connections.size, 0);
  assert.equal(pool.inflight, 0);
  const r2 = await call(pool, get()).done;
  assert.equal(r2.body.toString(), 'good');
  assert.equal(server.conns.length, 2);
});

test('a bad chunked body after the head: UPSTREAM_BAD_RESPONSE after onHead', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => conn.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n'));
  const pool = newPool(t, server.port);
  const c = call(pool, get());
  const r = await c.done;
  assert.equal(r.head?.status, 200);
  assert.equal(r.error?.code, 'UPSTREAM_BAD_RESPONSE');
  await server.conns[0]!.closed;
  assert.equal(pool.connections.size, 0);
});

test('bytes after a complete response: the response is delivered, the connection is not reused', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => conn.socket.write(conn.index === 0 ? answer('ok') + 'EXTRA' : answer('fresh')));
  const pool = newPool(t, server.port);
  const r = await call(pool, get()).done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.toString(), 'ok');
  await server.conns[0]!.closed;
  const r2 = await call(pool, get()).done;
  assert.equal(r2.body.toString(), 'fresh');
  assert.equal(server.conns.length, 2);
});

test('bytes from the app on an idle connection: it is closed and never reused', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => {
    conn.socket.write(answer(`conn ${conn.index}`));
    if (conn.index === 0) setImmediate(() => conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforged'));
  });
  const pool = newPool(t, server.port);
  assert.equal((await call(pool, get()).done).body.toString(), 'conn 0');
  await server.conns[0]!.closed;
  assert.equal(pool.connections.size, 0);
  const r = await call(pool, get()).done;
  assert.equal(r.body.toString(), 'conn 1');
});

test('an HTTP/1.0 answer: delivered, and the connection is closed rather than reused', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => conn.socket.write(`HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nconn ${conn.index}`));
  const pool = newPool(t, server.port);
  assert.equal((await call(pool, get()).done).body.toString(), 'conn 0');
  await server.conns[0]!.closed;
  assert.equal((await call(pool, get()).done).body.toString(), 'conn 1');
});

test('a close-delimited body ends at the close, as an end rather than an error', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => {
    conn.socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc');
    setImmediate(() => conn.socket.end('def'));
  });
  const pool = newPool(t, server.port);
  const c = call(pool, get());
  const r = await c.done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.toString(), 'abcdef');
  assert.equal(c.events.at(-1), 'end');
  assert.equal(pool.connections.size, 0);
  assert.equal(pool.inflight, 0);
});

test('a sized body cut short by the close: an error after the head, not an end', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => conn.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  const pool = newPool(t, server.port);
  const c = call(pool, get());
  const r = await c.done;
  assert.equal(r.head?.status, 200);
  assert.equal(r.body.toString(), 'abc');
  assert.equal(r.error?.code, 'ECONNRESET');
  assert.ok(!c.events.includes('end'));
  assert.equal(pool.inflight, 0);
});

test('a chunked response arriving in pieces arrives intact, and the connection is reused', LIMIT, async (t) => {
  const pieces = [
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    '5;ext=1\r\nhel',
    'lo\r\n',
    '6\r',
    '\n worl',
    'd\r\n10\r\n0123456789abcdef\r',
    '\n0\r\nX-Trailer: t\r\n',
    '\r\n',
  ];
  const server = await rawServer(t, async (conn) => {
    for (const p of pieces) {
      conn.socket.write(p);
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const pool = newPool(t, server.port);
  for (let i = 0; i < 2; i++) {
    const r = await call(pool, get()).done;
    assert.equal(r.error, undefined);
    assert.equal(r.body.toString(), 'hello world0123456789abcdef');
  }
  assert.equal(server.conns.length, 1);
});

// ---- Back-pressure ----

function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + (i >> 12)) & 0xff;
  return b;
}

test('a 5 MiB response with back-pressure: reading stops while the sink is full, and every byte arrives in order', LIMIT, async (t) => {
  const big = pattern(5 * 1024 * 1024);
  const server = await httpServer(t, (_req, res) => {
    res.setHeader('content-length', String(big.length));
    // Several writes, so the bytes arrive in many reads.
    for (let at = 0; at < big.length; at += 256 * 1024) res.write(big.subarray(at, at + 256 * 1024));
    res.end();
  });
  const pool = newPool(t, server.port);
  let paused = false;
  let pauses = 0;
  let bodyWhilePaused = 0;
  const c = call(pool, get(), (_chunk, self) => {
    if (paused) bodyWhilePaused++;
    paused = true;
    pauses++;
    // The sink is full; it drains a little later.
    setTimeout(() => {
      paused = false;
      self.exchange.resume();
    }, 1);
    return false;
  });
  const r = await c.done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.length, big.length);
  assert.ok(r.body.equals(big), 'bytes in order');
  assert.ok(pauses > 1);
  assert.equal(bodyWhilePaused, 0, 'no body between onBody returning false and resume()');
  assert.equal(pool.inflight, 0);
});

test('a sink that is full at the last body chunk does not leave the reused connection paused', LIMIT, async (t) => {
  const server = await httpServer(t, (req, res) => res.end(`body of ${req.url}`));
  const pool = newPool(t, server.port, { headersMs: 1_000 });
  sweepOften(t, pool);
  // The sink reports full on the (only, last) chunk; resume() comes only after the end, as a
  // streaming client's read() would.
  const first = call(pool, get('/1'), (_chunk, self) => {
    setImmediate(() => self.exchange.resume());
    return false;
  });
  assert.equal((await first.done).body.toString(), 'body of /1');
  await tick();
  const r = await call(pool, get('/2')).done;
  assert.equal(r.error, undefined, `failed with ${r.error?.code}`);
  assert.equal(r.body.toString(), 'body of /2');
  assert.equal(server.connections, 1);
});

// ---- Request bodies ----

test('a streamed request body with chunked=true arrives decoded at a node:http server', LIMIT, async (t) => {
  const server = await httpServer(t, async (req, res) => {
    const body = await readBody(req);
    res.setHeader('x-transfer-encoding', String(req.headers['transfer-encoding']));
    res.end(body);
  });
  const pool = newPool(t, server.port);
  const parts = [Buffer.from('hello '), Buffer.from('wörld ✓ '), pattern(100_000), Buffer.from('end')];
  const body = new PassThrough();
  const c = call(pool, {
    method: 'POST',
    head: requestHead('POST', '/upload', { host: 'b', 'transfer-encoding': 'chunked' }),
    body,
    chunked: true,
    retryable: false,
  });
  for (const p of parts) {
    body.write(p);
    await tick();
  }
  body.end();
  const r = await c.done;
  assert.equal(r.error, undefined);
  assert.equal(r.head?.status, 200);
  assert.ok(r.head?.headers.includes('chunked'));
  assert.ok(r.body.equals(Buffer.concat(parts)), 'the body the server decoded is the body sent');
  // The connection stays usable after a chunked request body.
  const r2 = await call(pool, get()).done;
  assert.equal(r2.error, undefined);
  assert.equal(server.connections, 1);
});

test('a streamed request body with a Content-Length (chunked=false) arrives as is', LIMIT, async (t) => {
  const server = await httpServer(t, async (req, res) => {
    res.end(await readBody(req));
  });
  const pool = newPool(t, server.port);
  const payload = pattern(200_000);
  const r = await call(pool, {
    method: 'PUT',
    head: requestHead('PUT', '/', { host: 'b', 'content-length': String(payload.length) }),
    body: Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]),
    chunked: false,
    retryable: false,
  }).done;
  assert.equal(r.error, undefined);
  assert.ok(r.body.equals(payload));
});

test('a streamed body shorter than its Content-Length fails the exchange and never reuses the connection', LIMIT, async (t) => {
  const server = await httpServer(t, async (req, res) => {
    res.end(await readBody(req).catch(() => Buffer.alloc(0)));
  });
  const pool = newPool(t, server.port);
  const r = await call(pool, {
    method: 'POST',
    head: requestHead('POST', '/', { host: 'b', 'content-length': '100' }),
    body: Readable.from([Buffer.from('only ten b')]),
    chunked: false,
    length: 100,
    retryable: false,
  }).done;
  assert.equal(r.error?.code, 'CLIENT_BODY_LENGTH');
  const next = await call(pool, get()).done;
  assert.equal(next.error, undefined);
  assert.equal(server.connections, 2, 'the next request must not ride on the connection the short body left mid-message');
});

test('close(): requests queued for a backend that left the table fail at once (the caller may retry elsewhere)', LIMIT, async (t) => {
  const server = await rawServer(t, () => {}); // never answers
  const pool = newPool(t, server.port, { maxConnections: 1 });
  const first = call(pool, get('/a'));
  const queued = [call(pool, get('/b')), call(pool, get('/c'))];
  await tick();
  pool.close();
  for (const q of queued) assert.equal((await q.done).error?.code, 'ECONNREFUSED');
  first.exchange.abort();
  assert.equal(pool.inflight, 0);
});

test('a buffered request body goes out with the head', LIMIT, async (t) => {
  const server = await httpServer(t, async (req, res) => {
    res.end(`${req.method} ${(await readBody(req)).toString()}`);
  });
  const pool = newPool(t, server.port);
  const r = await call(pool, {
    method: 'POST',
    head: requestHead('POST', '/', { host: 'b', 'content-length': '5' }),
    body: Buffer.from('small'),
    chunked: false,
    retryable: false,
  }).done;
  assert.equal(r.body.toString(), 'POST small');
});

test('a slow streamed upload the app is reading is not cut off by the headers timeout', LIMIT, async (t) => {
  const HEADERS = 400;
  const GAP = 250; // between body pieces: well inside HEADERS, but the whole upload is well past it
  const server = await httpServer(t, async (req, res) => {
    res.end(await readBody(req));
  });
  const pool = newPool(t, server.port, { headersMs: HEADERS });
  const body = new PassThrough();
  const c = call(pool, {
    method: 'POST',
    head: requestHead('POST', '/', { host: 'b', 'transfer-encoding': 'chunked' }),
    body,
    chunked: true,
    retryable: false,
  });
  for (const piece of ['one ', 'two ', 'three ', 'four']) {
    if (c.events.length > 0) break;
    body.write(piece);
    // Right after each piece goes out, sweep as if half the timeout had passed since: the app
    // cannot answer before it has the whole request, so the wait for the head starts at its end.
    setImmediate(() => pool.sweep(Date.now() + HEADERS / 2));
    await new Promise((r) => setTimeout(r, GAP));
  }
  body.end();
  const r = await c.done;
  assert.equal(r.error, undefined, `failed with ${r.error?.code}`);
  assert.equal(r.body.toString(), 'one two three four');
});

test('an empty chunk from the request body stream does not end the chunked body early', LIMIT, async (t) => {
  const server = await httpServer(t, async (req, res) => {
    res.end(await readBody(req));
  });
  const pool = newPool(t, server.port);
  // Readable.from() is in object mode: an empty Buffer is a 'data' event of its own.
  const r = await call(pool, {
    method: 'POST',
    head: requestHead('POST', '/', { host: 'b', 'transfer-encoding': 'chunked' }),
    body: Readable.from([Buffer.from('before'), Buffer.alloc(0), Buffer.from('after')]),
    chunked: true,
    retryable: false,
  }).done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.toString(), 'beforeafter');
});

// ---- Abort, idle sweep, close ----

test('Exchange.abort() while waiting for the answer closes the socket; inflight goes back to 0', LIMIT, async (t) => {
  const server = await rawServer(t, () => {});
  const pool = newPool(t, server.port);
  const c = call(pool, get());
  const conn = await server.nextRequest();
  assert.equal(pool.inflight, 1);
  c.exchange.abort();
  await conn.closed;
  assert.equal(pool.inflight, 0);
  assert.equal(pool.connections.size, 0);
  c.exchange.abort(); // twice is harmless
  assert.equal(pool.inflight, 0);
  await tick();
  assert.deepEqual(c.events, [], 'an aborted exchange hears nothing more');
});

test('Exchange.abort() of a queued request frees its slot; it is never sent', LIMIT, async (t) => {
  let hold: RawConn | null = null;
  const server = await rawServer(t, (conn, n) => {
    if (n === 0) hold = conn;
    else conn.socket.write(answer(`request ${n}`));
  });
  const pool = newPool(t, server.port, { maxConnections: 1 });
  const first = call(pool, get('/first'));
  const queued = call(pool, get('/queued'));
  await server.nextRequest();
  assert.equal(pool.inflight, 2);
  queued.exchange.abort();
  assert.equal(pool.inflight, 1);
  hold!.socket.write(answer('request 0'));
  assert.equal((await first.done).body.toString(), 'request 0');
  const third = await call(pool, get('/third')).done;
  assert.equal(third.body.toString(), 'request 1');
  assert.deepEqual(
    server.conns[0]!.requests.map((h) => h.split(' ')[1]),
    ['/first', '/third'],
  );
  assert.deepEqual(queued.events, []);
  assert.equal(pool.inflight, 0);
});

test('Exchange.abort() mid-body closes the connection; the pool goes on with a new one', LIMIT, async (t) => {
  const server = await rawServer(t, (conn) => {
    if (conn.index === 0) conn.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nsome');
    else conn.socket.write(answer('next'));
  });
  const pool = newPool(t, server.port, { maxConnections: 1 });
  const c = call(pool, get(), (_chunk, self) => {
    setImmediate(() => self.exchange.abort());
    return true;
  });
  const conn = await server.nextRequest();
  await conn.closed;
  assert.deepEqual(c.events, ['head', 'body']);
  assert.equal(pool.inflight, 0);
  assert.equal((await call(pool, get()).done).body.toString(), 'next');
});

test('idle connections are closed by sweep() after keepAliveMs, and not before', LIMIT, async (t) => {
  const server = await httpServer(t, (_req, res) => res.end('ok'));
  const pool = newPool(t, server.port, { keepAliveMs: 1_000 });
  await call(pool, get()).done;
  assert.equal(pool.connections.size, 1);
  pool.sweep(Date.now());
  assert.equal(pool.connections.size, 1);
  const serverSide = server.sockets[0]!;
  pool.sweep(Date.now() + 1_500);
  assert.equal(pool.connections.size, 0);
  if (!serverSide.destroyed) await once(serverSide, 'close');
  const r = await call(pool, get()).done;
  assert.equal(r.error, undefined);
  assert.equal(server.connections, 2);
});

test('sweep() leaves a connection with a request on it alone, however long it has been idle before', LIMIT, async (t) => {
  let hold: RawConn | null = null;
  const server = await rawServer(t, (conn, n) => {
    if (n === 0) conn.socket.write(answer('first'));
    else hold = conn;
  });
  const pool = newPool(t, server.port, { keepAliveMs: 1_000, headersMs: 60_000 });
  await call(pool, get()).done;
  const c = call(pool, get());
  await server.nextRequest();
  pool.sweep(Date.now() + 5_000);
  hold!.socket.write(answer('second'));
  const r = await c.done;
  assert.equal(r.error, undefined);
  assert.equal(r.body.toString(), 'second');
});

test('close(): the response in flight finishes, then its connection closes; later requests are refused', LIMIT, async (t) => {
  let hold: RawConn | null = null;
  const server = await rawServer(t, (conn) => (hold = conn));
  const pool = newPool(t, server.port);
  const c = call(pool, get());
  await server.nextRequest();
  pool.close();
  hold!.socket.write(answer('last'));
  const r = await c.done;
  assert.equal(r.body.toString(), 'last');
  await server.conns[0]!.closed;
  assert.equal(pool.connections.size, 0);
  const after = await call(pool, get()).done;
  assert.ok(after.error);
  assert.equal(pool.inflight, 0);
});

test('destroy(): a request in flight is told it failed, not left waiting forever', LIMIT, async (t) => {
  const server = await rawServer(t, () => {});
  const pool = newPool(t, server.port, { maxConnections: 1 });
  const inFlight = call(pool, get('/a'));
  const queued = call(pool, get('/b'));
  await server.nextRequest();
  pool.destroy();
  await server.conns[0]!.closed;
  await tick();
  assert.equal(pool.inflight, 0);
  assert.equal(queued.events.length, 1, 'the queued request hears of it');
  assert.match(queued.events[0]!, /^error:/);
  assert.equal(inFlight.events.length, 1, 'the request in flight hears of it');
  assert.match(inFlight.events[0]!, /^error:/);
});
