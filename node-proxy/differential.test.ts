/**
 * Differential test of the proxy's framing (issue 9 point 3): many clients at once, some sending
 * ordinary requests and some the smuggling shapes, through one proxy to one app whose node:http
 * (strict) parser records every request it parsed on any connection. The app must see exactly the
 * requests the clients sent, each once with its body intact, and nothing hidden inside them; every
 * client must get the answer to its own request.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startProxy } from './proxy.js';
import { createTestDb, RawClient, seedLiveApp, seedNode, startRecordingBackend, type RecordingBackend, type TestDb } from './testing.js';

const domain = 'apps.test';
const APP = `app.${domain}`;

interface Shape {
  /** The bytes one client sends on one connection: each part after the answer to the one before. */
  bytes: string | string[];
  /** Requests the app must parse exactly once, with these bodies; one per part of `bytes`, answered in order. */
  required: { method: string; url: string; body: string }[];
  /** Requests the app may parse at most once. */
  allowed: string[];
  /** Every part is sent at once (pipelined); the answers must still come in order. */
  pipelined?: boolean;
}

/** A request hidden where only a lenient or misframing proxy would forward it as a request. */
const smuggled = (id: string) => `GET /smuggled/${id} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`;

const SHAPES: ((id: string) => Shape)[] = [
  (id) => ({ bytes: `GET /get/${id} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`, required: [{ method: 'GET', url: `/get/${id}`, body: '' }], allowed: [] }),
  (id) => {
    const body = `small body of ${id}`;
    return { bytes: `POST /post/${id} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: ${body.length}\r\n\r\n${body}`, required: [{ method: 'POST', url: `/post/${id}`, body }], allowed: [] };
  },
  (id) => {
    const body = `${id}:`.padEnd(100_000, 'b');
    return { bytes: `PUT /big/${id} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: ${body.length}\r\n\r\n${body}`, required: [{ method: 'PUT', url: `/big/${id}`, body }], allowed: [] };
  },
  // Keep-alive: a second request on the same connection once the first is answered.
  (id) => ({
    bytes: [`GET /ka1/${id} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`, `POST /ka2/${id} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 2\r\n\r\nok`],
    required: [{ method: 'GET', url: `/ka1/${id}`, body: '' }, { method: 'POST', url: `/ka2/${id}`, body: 'ok' }],
    allowed: [],
  }),
  (id) => ({
    bytes: `POST /chunked/${id} HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: cHuNkEd\r\n\r\n3\r\n${id.slice(0, 3).padEnd(3, '-')}\r\n4\r\nmore\r\n0\r\n\r\n`,
    required: [{ method: 'POST', url: `/chunked/${id}`, body: `${id.slice(0, 3).padEnd(3, '-')}more` }],
    allowed: [],
  }),
  (id) => {
    const body = `expect ${id}`;
    return {
      bytes: `POST /expect/${id} HTTP/1.1\r\nHost: ${APP}\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      required: [{ method: 'POST', url: `/expect/${id}`, body }],
      allowed: [],
    };
  },
  // A request inside a properly chunked body is body, nothing more.
  (id) => {
    const inner = smuggled(id);
    return {
      bytes: `POST /inner/${id} HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`,
      required: [{ method: 'POST', url: `/inner/${id}`, body: inner }],
      allowed: [],
    };
  },
  // Attack: chunked applied twice (RFC 9112 forbids it), a request hidden in the body.
  (id) => ({
    bytes: `POST /te-twice/${id} HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled(id)}`,
    required: [],
    allowed: [],
  }),
  // Attack: a Connection token naming the length, with a request inside the (streamed) body.
  (id) => {
    const body = `${smuggled(id)}`.padEnd(70_000, 'x');
    return {
      bytes: `POST /named/${id} HTTP/1.1\r\nHost: ${APP}\r\nConnection: content-length\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      required: [{ method: 'POST', url: `/named/${id}`, body }],
      allowed: [],
    };
  },
  (id) => ({
    bytes: `POST /named-te/${id} HTTP/1.1\r\nHost: ${APP}\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    required: [{ method: 'POST', url: `/named-te/${id}`, body: 'hello' }],
    allowed: [],
  }),
  // Attack: two lengths, the rest of the bytes a request.
  (id) => ({
    bytes: `POST /dup/${id} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 5\r\nContent-Length: 60\r\n\r\nhello${smuggled(id)}`,
    required: [],
    allowed: [],
  }),
  (id) => ({ bytes: `GET /hosts/${id} HTTP/1.1\r\nHost: ${APP}\r\nHost: other.${domain}\r\n\r\n`, required: [], allowed: [] }),
  (id) => ({
    bytes: `POST /cl-te/${id} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled(id)}`,
    required: [],
    allowed: [],
  }),
  (id) => ({
    bytes: `POST /gzip/${id} HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${smuggled(id)}`,
    required: [],
    allowed: [],
  }),
  // Attack: chunk framing only a lenient decoder accepts, a request after its idea of the end.
  (id) => ({
    bytes: `POST /bare-lf/${id} HTTP/1.1\r\nHost: ${APP}\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\n\r\n${smuggled(id)}`,
    required: [],
    allowed: [],
  }),
  // Pipelined: answered in order, each once.
  (id) => ({
    bytes: [`GET /pipe1/${id} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`, `POST /pipe2/${id} HTTP/1.1\r\nHost: ${APP}\r\nContent-Length: 4\r\n\r\npipe`, `GET /pipe3/${id} HTTP/1.1\r\nHost: ${APP}\r\n\r\n`],
    required: [{ method: 'GET', url: `/pipe1/${id}`, body: '' }, { method: 'POST', url: `/pipe2/${id}`, body: 'pipe' }, { method: 'GET', url: `/pipe3/${id}`, body: '' }],
    allowed: [],
    pipelined: true,
  }),
];

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

/** A small deterministic generator, so a failing order can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Sends one shape on its own connection; checks each answer it must get is the answer to its own request. */
async function run(port: number, shape: Shape): Promise<void> {
  const client = await RawClient.open(port);
  const parts = typeof shape.bytes === 'string' ? [shape.bytes] : shape.bytes;
  if (shape.required.length === 0 || shape.pipelined) client.write(parts.join(''));
  for (const [i, r] of shape.required.entries()) {
    if (!shape.pipelined) client.write(parts[i]!);
    const answer = await client.next();
    assert.ok(answer, `no answer to ${r.method} ${r.url}`);
    assert.equal(answer.status, 200, `${r.method} ${r.url}: ${answer.body.toString().slice(0, 200)}`);
    const echo = JSON.parse(answer.body.toString()) as { method: string; url: string; body: string };
    assert.deepEqual([echo.method, echo.url, echo.body === r.body], [r.method, r.url, true], `the answer to ${r.method} ${r.url} was to another request`);
  }
  if (shape.required.length > 0) {
    client.destroy();
    return;
  }
  // Refused or killed: whatever comes is an error, never an answer from the app.
  for (const answer of await client.untilClosed()) {
    assert.ok(answer.status >= 400 && answer.status < 500, `unexpected ${answer.status}: ${answer.body.toString().slice(0, 200)}`);
  }
}

test('many clients at once, ordinary and smuggling shapes mixed: the app parses exactly the requests sent, and each client gets its own answers', { timeout: 120_000 }, async () => {
  const proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, log: () => {} });
  const expected: Shape[] = [];
  try {
    for (let round = 0; round < 6; round++) {
      const shapes = shuffled(
        SHAPES.flatMap((make, kind) => [0, 1].map((copy) => make(`${round}-${kind}-${copy}`))),
        round + 1,
      );
      expected.push(...shapes);
      await Promise.all(shapes.map((shape) => run(proxy.port, shape)));
    }
  } finally {
    await proxy.close();
    await app.idle();
  }
  const seen = new Map<string, number>();
  for (const r of app.requests) seen.set(`${r.method} ${r.url}`, (seen.get(`${r.method} ${r.url}`) ?? 0) + 1);
  const bodies = new Map(app.requests.map((r) => [`${r.method} ${r.url}`, r.body.toString('latin1')]));
  for (const shape of expected) {
    for (const r of shape.required) {
      const key = `${r.method} ${r.url}`;
      assert.equal(seen.get(key), 1, `${key} parsed ${seen.get(key) ?? 0} times`);
      assert.equal(bodies.get(key), r.body, `${key}: body changed on the way`);
      seen.delete(key);
    }
    for (const key of shape.allowed) {
      assert.ok((seen.get(key) ?? 0) <= 1, `${key} parsed ${seen.get(key)} times`);
      seen.delete(key);
    }
  }
  assert.deepEqual([...seen.keys()], [], 'the app parsed requests no client sent');
});
