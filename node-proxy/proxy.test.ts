/**
 * The proxy against the real thing: a fresh database (PostgreSQL, or PGlite) behind the WebSocket bridge,
 * rows written the way the control plane writes them, and real node:http backends.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startProxy, type Proxy } from './proxy.js';
import { RouteSync } from './route-sync.js';
import {
  createTestDb,
  eventually,
  seedNode,
  seedProject,
  seedTask,
  send,
  setLive,
  startBackend,
  type Backend,
  type TestDb,
} from './testing.js';

const domain = 'apps.test';
const logs: string[] = [];
const log = (m: string) => logs.push(m);

let t: TestDb;
let proxy: Proxy;
let shop: { projectId: string; deploymentIds: string[] };
let pair: { projectId: string; deploymentIds: string[] };
const backends: Record<string, Backend> = {};

const backendOf = async (port: number, host: string) => (await send(port, host)).json<{ backend: string }>().backend;

before(async () => {
  t = await createTestDb();
  const node = await seedNode(t);
  const downNode = await seedNode(t, 'down');
  for (const name of ['a1', 'a2', 'b1', 'c1', 'c2', 'slow']) backends[name] = await startBackend(name);

  // shop: d1 live on a1+a2, d2 a preview on b1, plus a task on a down node that must never be used.
  shop = await seedProject(t, 'shop', 2);
  const [d1, d2] = shop.deploymentIds as [string, string];
  await seedTask(t, d1, node, backends.a1!.port);
  await seedTask(t, d1, node, backends.a2!.port);
  await seedTask(t, d2, node, backends.b1!.port);
  await seedTask(t, d2, downNode, 1);
  await setLive(t, shop.projectId, d1, false);

  // empty: a live deployment whose only task is still starting.
  const empty = await seedProject(t, 'empty', 1);
  await seedTask(t, empty.deploymentIds[0]!, node, 2, 'starting');
  await setLive(t, empty.projectId, empty.deploymentIds[0]!, false);

  // pair: two replicas, one of which will be killed.
  pair = await seedProject(t, 'pair', 1);
  await seedTask(t, pair.deploymentIds[0]!, node, backends.c1!.port);
  await seedTask(t, pair.deploymentIds[0]!, node, backends.c2!.port);
  await setLive(t, pair.projectId, pair.deploymentIds[0]!, false);

  const slow = await seedProject(t, 'slow', 1);
  await seedTask(t, slow.deploymentIds[0]!, node, backends.slow!.port);
  await setLive(t, slow.projectId, slow.deploymentIds[0]!, false);

  proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, upstreamTimeoutMs: 1_000, log });
}, { timeout: 60_000 });

after(async () => {
  await proxy?.close();
  for (const b of Object.values(backends)) await b.kill().catch(() => {});
  await t?.drop();
}, { timeout: 30_000 });

test('health answers on any host with the current epoch', async () => {
  const res = await send(proxy.port, 'whatever.example', '/__zectre/health');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { ok: true, epoch: proxy.epoch() });
});

test('the app host reaches the live deployment, round robin over its tasks', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(await backendOf(proxy.port, `shop.${domain}`));
  assert.deepEqual([...seen].sort(), ['a1', 'a2']);
  assert.match(await backendOf(proxy.port, `SHOP.${domain.toUpperCase()}:${proxy.port}`), /^a[12]$/);
});

test('least outstanding requests: while one task holds a slow request the other takes the new ones; a client that leaves frees its slot', async () => {
  const hanging = request({ port: proxy.port, path: '/hang', headers: { host: 'shop.apps.test' } });
  hanging.on('error', () => {});
  hanging.end();
  // Once the hanging request occupies one of a1/a2, every new request goes to the other one.
  await eventually('the hanging request to occupy a task', async () => (await backendOf(proxy.port, 'shop.apps.test')) === (await backendOf(proxy.port, 'shop.apps.test')));
  const answered: string[] = [];
  for (let i = 0; i < 4; i++) answered.push(await backendOf(proxy.port, 'shop.apps.test'));
  assert.equal(new Set(answered).size, 1, `round robin would alternate; least outstanding keeps to the idle task: ${answered.join(',')}`);
  hanging.destroy();
  await eventually('both tasks to take requests again', async () =>
    new Set([await backendOf(proxy.port, 'shop.apps.test'), await backendOf(proxy.port, 'shop.apps.test')]).size === 2);
});

test('the preview host reaches its own deployment', async () => {
  for (let i = 0; i < 3; i++) assert.equal(await backendOf(proxy.port, `${shop.deploymentIds[1]}--shop.${domain}`), 'b1');
});

test('an unknown host is a 404 with the error shape', async () => {
  const res = await send(proxy.port, `nope.${domain}`);
  assert.equal(res.status, 404);
  assert.deepEqual(res.json(), { error: { code: 'unknown_host', message: `no app is served at nope.${domain}` } });
});

test('a known host without a healthy task is a 503 with Retry-After', async () => {
  const res = await send(proxy.port, `empty.${domain}`);
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '2');
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'no_healthy_backend');
});

test('forwarding headers are set, hop-by-hop headers dropped both ways', async () => {
  const res = await send(proxy.port, `shop.${domain}`, '/hop?x=1', {
    headers: { connection: 'keep-alive, x-private', 'x-private': 'secret', 'x-request-id': 'req-42', 'x-app': 'kept' },
  });
  assert.equal(res.status, 200);
  const echoed = res.json<{ url: string; headers: Record<string, string> }>();
  assert.equal(echoed.url, '/hop?x=1');
  assert.equal(echoed.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(echoed.headers['x-forwarded-proto'], 'http');
  assert.equal(echoed.headers['x-forwarded-host'], `shop.${domain}`);
  assert.equal(echoed.headers['x-request-id'], 'req-42');
  assert.equal(echoed.headers['x-app'], 'kept');
  assert.equal(echoed.headers['x-private'], undefined);
  assert.equal(res.headers['proxy-authenticate'], undefined);
  // The app's Keep-Alive (timeout=5) is not passed on; the proxy may state its own for its connection.
  assert.notEqual(res.headers['keep-alive'], 'timeout=5');
  const generated = (await send(proxy.port, `shop.${domain}`)).json<{ headers: Record<string, string> }>();
  assert.ok(generated.headers['x-request-id']);
});

test('request and response bodies, small and large, arrive intact', async () => {
  const small = await send(proxy.port, `shop.${domain}`, '/echo', { method: 'POST', body: Buffer.alloc(1000, 'y') });
  assert.equal(small.json<{ bodyLength: number }>().bodyLength, 1000);
  const large = await send(proxy.port, `shop.${domain}`, '/echo', { method: 'POST', body: Buffer.alloc(3_000_000, 'y') });
  assert.equal(large.json<{ bodyLength: number }>().bodyLength, 3_000_000);
  const big = await send(proxy.port, `shop.${domain}`, '/big?n=2000000');
  assert.equal(big.status, 200);
  assert.equal(big.headers['content-length'], '2000000');
  assert.equal(big.body.length, 2_000_000);
  const head = await send(proxy.port, `shop.${domain}`, '/big?n=5000', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '5000');
  assert.equal(head.body.length, 0);
});

// PGlite behind pglite-socket never delivers a NOTIFY to another connection (measured: 0 of 50).
const noNotify = process.env.ZECTRE_TEST_DB === 'pglite' && 'PGlite does not deliver NOTIFY across connections; the epoch poll covers it';
test('a live switch with NOTIFY reaches a proxy that does not poll, without a restart', { skip: noNotify }, async () => {
  const listener = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 3_600_000, log });
  try {
    assert.match(await backendOf(listener.port, `shop.${domain}`), /^a[12]$/);
    const epoch = await setLive(t, shop.projectId, shop.deploymentIds[1]!, true);
    await eventually('the NOTIFY-driven reload', async () => (await backendOf(listener.port, `shop.${domain}`)) === 'b1');
    assert.equal(listener.epoch(), epoch);
  } finally {
    await listener.close();
  }
  await setLive(t, shop.projectId, shop.deploymentIds[0]!, true);
  await eventually('the switch back', async () => (await backendOf(proxy.port, `shop.${domain}`)) !== 'b1');
});

test('the epoch poll alone picks up a change that sent no NOTIFY', async () => {
  const epoch = await setLive(t, shop.projectId, shop.deploymentIds[1]!, false);
  await eventually('the poll-driven reload', async () => (await backendOf(proxy.port, `shop.${domain}`)) === 'b1');
  assert.equal(proxy.epoch(), epoch);
  await setLive(t, shop.projectId, shop.deploymentIds[0]!, false);
  await eventually('the switch back', async () => (await backendOf(proxy.port, `shop.${domain}`)) !== 'b1');
});

test('a killed backend: idempotent requests retry on the other task and succeed', async () => {
  for (let i = 0; i < 2; i++) await backendOf(proxy.port, `pair.${domain}`); // warm both keep-alive pools
  await backends.c1!.kill();
  for (let i = 0; i < 6; i++) {
    const res = await send(proxy.port, `pair.${domain}`, '/', { method: i % 2 ? 'PUT' : 'GET', body: i % 2 ? Buffer.from('x') : undefined });
    assert.equal(res.status, 200);
    assert.equal(res.json<{ backend: string }>().backend, 'c2');
  }
});

test('a backend that does not answer in time is a 504', async () => {
  const res = await send(proxy.port, `slow.${domain}`, '/hang');
  assert.equal(res.status, 504);
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'gateway_timeout');
});

test('a dead backend with no other task is a 502', async () => {
  await backends.slow!.kill();
  const res = await send(proxy.port, `slow.${domain}`, '/', { method: 'POST', body: Buffer.from('x') });
  assert.equal(res.status, 502);
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'bad_gateway');
});

test('while the database is unreachable the last routes keep serving; the proxy recovers by itself', async () => {
  await t.stopBridge();
  await eventually('the outage to be noticed', async () => logs.some((m) => m.startsWith('route database unreachable')));
  assert.match(await backendOf(proxy.port, `shop.${domain}`), /^a[12]$/);
  await new Promise((r) => setTimeout(r, 350)); // a few more failing polls (every 100 ms) must not log again
  assert.equal(logs.filter((m) => m.startsWith('route database unreachable')).length, 1);
  await t.restartBridge();
  const epoch = await setLive(t, shop.projectId, shop.deploymentIds[1]!, true);
  await eventually('the reload after recovery', async () => (await backendOf(proxy.port, `shop.${domain}`)) === 'b1', 20_000);
  assert.equal(proxy.epoch(), epoch);
});

test('concurrent reload triggers coalesce into at most one more load', async () => {
  let loads = 0;
  const sync = new RouteSync({ db: t.db, appsDomain: domain, pollIntervalMs: 3_600_000, log, onTable: () => loads++ });
  await sync.start();
  try {
    assert.equal(loads, 1);
    await Promise.all(Array.from({ length: 10 }, () => sync.reload()));
    assert.equal(loads, 3);
  } finally {
    await sync.close();
  }
});

test('startup fails with a clear message when the database cannot be reached', async () => {
  const db = { ...t.db, wsProxy: '127.0.0.1:1/v2' }; // nothing listens on port 1
  await assert.rejects(
    startProxy({ db, appsDomain: domain, host: '127.0.0.1', port: 0, log }),
    /cannot load routes from the database at startup/,
  );
});
