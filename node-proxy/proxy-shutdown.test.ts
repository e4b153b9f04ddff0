/**
 * Graceful shutdown under keep-alive traffic (issue 14 point 7), with the real proxy process and a
 * real SIGTERM: requests in flight finish with their answers, and requests that keep-alive clients
 * send on their open connections during the drain are answered (with `Connection: close`), never
 * reset and never a 502. Only a new connection after that may be refused: the proxy is going away.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startProxyProcess } from '../dev/bench-proxy-process.js';
import type { Child } from '../dev/processes.js';
import { createTestDb, eventually, seedLiveApp, seedNode, type TestDb } from './testing.js';

const domain = 'apps.test';
const HOST = `app.${domain}`;

let t: TestDb;
let app: ReturnType<typeof createServer>;
/** /slow requests the app holds until the test lets them go. */
const held: ServerResponse[] = [];

before(async () => {
  t = await createTestDb();
  app = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/slow') held.push(res);
    else res.end('quick');
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const node = await seedNode(t);
  await seedLiveApp(t, 'app', node, [(app.address() as AddressInfo).port], true);
}, { timeout: 60_000 });

after(async () => {
  app?.close();
  app?.closeAllConnections();
  await t?.drop();
}, { timeout: 30_000 });

interface Outcome {
  status?: number;
  connection?: string;
  body?: string;
  error?: string;
}

function get(port: number, path: string, agent: Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: HOST }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

/**
 * One keep-alive client sending request after request on its connection until the proxy answers
 * with `Connection: close`, then once more (a new connection: refused once the proxy is gone).
 */
async function keepAliveClient(port: number, outcomes: Outcome[], stopped: () => boolean): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (;;) {
      const o = await get(port, '/', agent);
      outcomes.push(o);
      if (o.error || o.connection === 'close' || stopped()) break;
    }
    if (!stopped()) outcomes.push(await get(port, '/', agent));
  } finally {
    agent.destroy();
  }
}

test('SIGTERM under keep-alive traffic: requests in flight finish 200, requests on open connections during the drain are answered, none reset or 502', { timeout: 90_000 }, async (t2) => {
  const proxy = await startProxyProcess(t.db, domain, { env: { ZECTRE_PROXY_SHUTDOWN_GRACE_MS: '60000' } });
  let child: Child | null = proxy.child;
  try {
    const { port } = proxy;
    const exited = new Promise<number | null>((resolve) => proxy.child.proc.once('exit', (code) => resolve(code)));
    const slow = [1, 2, 3].map(() => get(port, '/slow', false));
    await eventually('the slow requests to reach the app', async () => held.length === 3, 20_000);
    const outcomes: Outcome[][] = [[], [], [], []];
    let stop = false;
    const clients = outcomes.map((o) => keepAliveClient(port, o, () => stop));
    await eventually('every keep-alive client to be answered', async () => outcomes.every((o) => o.length > 0), 20_000);
    proxy.child.proc.kill('SIGTERM');
    // The keep-alive clients are still sending: each must get an answer saying the connection closes.
    await eventually('every keep-alive client to be told its connection closes', async () =>
      outcomes.every((o) => o.some((x) => x.connection === 'close' || x.error)), 30_000);
    for (const res of held.splice(0)) res.end('finished');
    const slowAnswers = await Promise.all(slow);
    stop = true;
    await Promise.all(clients);
    assert.equal(await exited, 0);
    child = null;

    const all = outcomes.flat();
    const failed = all.filter((o) => (o.status !== undefined && o.status >= 500) || (o.error !== undefined && o.error !== 'ECONNREFUSED'));
    t2.diagnostic(`keep-alive requests: ${all.length}, failed: ${failed.length}, slow requests answered 200: ${slowAnswers.filter((a) => a.status === 200).length}/3`);
    assert.deepEqual(slowAnswers.map((a) => [a.status, a.body]), [[200, 'finished'], [200, 'finished'], [200, 'finished']]);
    assert.deepEqual(failed, []);
    // Refused is allowed only for a new connection, after the proxy said close on the old one.
    for (const o of outcomes) {
      const refusedAt = o.findIndex((x) => x.error === 'ECONNREFUSED');
      if (refusedAt >= 0) assert.equal(o[refusedAt - 1]?.connection, 'close');
    }
  } finally {
    await child?.stop();
  }
});
