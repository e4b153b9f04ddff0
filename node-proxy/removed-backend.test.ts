/**
 * Requests in flight to an instance that leaves routing (issue 14 point 2): a frozen node's task is
 * marked lost once its replacement is healthy, but the requests the proxy had already sent it would
 * wait the full upstream timeout. Once the route table drops a backend that does not answer, a GET
 * waiting on it is answered by the current backend and a POST gets a clear 502; a retired instance
 * that still answers keeps its slow request (a deploy's drain). The upstream timeout here (120 s)
 * is above every test's own timeout, so an answer at all shows the proxy did not wait for it.
 * Real proxy, real sockets, real database.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startProxy, type Proxy } from './proxy.js';
import { createTestDb, eventually, seedLiveApp, seedNode, seedTask, send, startBackend, type Backend, type TestDb } from './testing.js';

const domain = 'apps.test';

let t: TestDb;
let proxy: Proxy;
let node: string;
const logs: string[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];
const backends: Backend[] = [];

/** A backend whose process is frozen: the kernel accepts and takes requests, nothing answers. */
async function startFrozen(): Promise<{ port: number; received: () => string }> {
  let received = '';
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, received: () => received };
}

/** A healthy app that answers `/slow` only when told to, and anything else at once. */
async function startSlow(): Promise<{ port: number; held: () => boolean; release: () => void }> {
  let held: ServerResponse | null = null;
  const server = createHttpServer((req, res) => {
    if (req.url === '/slow') held = res;
    else res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, held: () => held !== null, release: () => held!.end('slow answer from the retired instance') };
}

/**
 * What the control plane does when a replacement is healthy: the new task is routable, the old one
 * leaves routing (lost: its node was declared down; retired: a deploy or scale-down), one epoch bump.
 */
async function replace(deploymentId: string, oldTask: string, newPort: number, how: 'lost' | 'retired'): Promise<void> {
  await seedTask(t, deploymentId, node, newPort);
  await t.tx([
    ['UPDATE route_epoch SET epoch = epoch + 1'],
    how === 'lost'
      ? [`UPDATE tasks SET desired_state = 'stopped', observed_state = 'lost' WHERE id = $1`, [oldTask]]
      : ['UPDATE tasks SET retire_epoch = (SELECT epoch FROM route_epoch), retire_requested_at = now() WHERE id = $1', [oldTask]],
    ["SELECT pg_notify('zectre_routes', (SELECT epoch FROM route_epoch)::text)"],
  ]);
}

/** A live app with one task on `port`, once the proxy serves it; returns its deployment and that task. */
async function liveApp(slug: string, port: number): Promise<{ deploymentId: string; taskId: string }> {
  const { deploymentId } = await seedLiveApp(t, slug, node, [port], true);
  const [tasks, epochs] = (await t.tx([['SELECT id FROM tasks WHERE deployment_id = $1', [deploymentId]], ['SELECT epoch FROM route_epoch']])) as [{ id: string }[], { epoch: string }[]];
  await eventually(`the proxy to route ${slug}`, async () => proxy.epoch() >= Number(epochs[0]!.epoch));
  return { deploymentId, taskId: tasks[0]!.id };
}

before(async () => {
  t = await createTestDb();
  node = await seedNode(t);
  proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, upstreamTimeoutMs: 120_000, log: (m) => logs.push(m) });
}, { timeout: 60_000 });

after(async () => {
  await proxy?.close();
  for (const b of backends) await b.kill();
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  await t?.drop();
}, { timeout: 30_000 });

test('a GET waiting on a frozen instance that leaves routing is answered by its replacement', { timeout: 30_000 }, async () => {
  const frozen = await startFrozen();
  const app = await liveApp('getter', frozen.port);
  const answer = send(proxy.port, `getter.${domain}`, '/page?n=1');
  await eventually('the frozen instance to have the request', async () => frozen.received().includes('GET /page?n=1 '));
  const replacement = await startBackend('replacement');
  backends.push(replacement);
  await replace(app.deploymentId, app.taskId, replacement.port, 'lost');
  const res = await answer;
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual([res.json().backend, res.json().url], ['replacement', '/page?n=1']);
});

test('a POST waiting on a frozen instance that leaves routing gets a clear 502', { timeout: 30_000 }, async () => {
  const frozen = await startFrozen();
  const app = await liveApp('poster', frozen.port);
  const answer = send(proxy.port, `poster.${domain}`, '/orders', { method: 'POST', body: Buffer.from('{"qty":1}'), headers: { 'content-type': 'application/json' } });
  await eventually('the frozen instance to have the request', async () => frozen.received().includes('{"qty":1}'));
  const replacement = await startBackend('replacement');
  backends.push(replacement);
  await replace(app.deploymentId, app.taskId, replacement.port, 'lost');
  const res = await answer;
  assert.equal(res.status, 502, res.body.toString());
  const { error } = res.json<{ error: { code: string; message: string } }>();
  assert.equal(error.code, 'upstream_removed');
  assert.match(error.message, /removed from routing before it responded/);
});

test('a retired instance that still answers completes its slow request', { timeout: 30_000 }, async () => {
  const slow = await startSlow();
  const app = await liveApp('drainer', slow.port);
  const answer = send(proxy.port, `drainer.${domain}`, '/slow');
  await eventually('the instance to hold the request', async () => slow.held());
  const replacement = await startBackend('replacement');
  backends.push(replacement);
  await replace(app.deploymentId, app.taskId, replacement.port, 'retired');
  // Whatever it decided about the waiting request (asked the instance, or not), it has decided.
  await eventually('the proxy to see the instance leave routing', async () => logs.some((l) => l.startsWith(`backend 127.0.0.1:${slow.port} left routing`)));
  slow.release();
  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'slow answer from the retired instance');
  assert.ok(logs.some((l) => l.startsWith(`backend 127.0.0.1:${slow.port} left routing with 1 request(s) waiting; it answers`)), logs.join('\n'));
});
