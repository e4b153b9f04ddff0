/**
 * WebSockets at retirement (issue 15 point 6): when the instance a socket is connected to leaves
 * routing, the socket gets the drain period, then close code 1001 (going away) on both sides; an
 * instance that vanishes without a close frame also gives the client 1001. Real proxy, real `ws`
 * apps, routes switched the way the control plane switches them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { startProxy, type Proxy } from './proxy.js';
import { createTestDb, eventually, seedNode, seedProject, seedTask, setLive, type TestDb } from './testing.js';

const domain = 'apps.test';
const HOST = `chat.${domain}`;

let t: TestDb;
let proxy: Proxy;
let chat: { projectId: string; deploymentIds: string[] };
const apps: Record<string, { wss: WebSocketServer; closes: number[] }> = {};

/** A WebSocket app that says its name on connect and records the close codes it receives. */
async function startApp(name: string): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const closes: number[] = [];
  wss.on('connection', (socket) => {
    socket.send(name);
    socket.on('close', (code) => closes.push(code));
  });
  apps[name] = { wss, closes };
  return (wss.address() as AddressInfo).port;
}

before(async () => {
  t = await createTestDb();
  const node = await seedNode(t);
  chat = await seedProject(t, 'chat', 3);
  for (const [i, name] of ['v1', 'v2', 'v3'].entries()) await seedTask(t, chat.deploymentIds[i]!, node, await startApp(name));
  await setLive(t, chat.projectId, chat.deploymentIds[0]!, true);
  proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, websocketDrainMs: 300, log: () => {} });
}, { timeout: 60_000 });

after(async () => {
  await proxy?.close();
  for (const { wss } of Object.values(apps)) {
    for (const c of wss.clients) c.terminate();
    wss.close();
  }
  await t?.drop();
}, { timeout: 30_000 });

/** Opens a socket through the proxy; resolves with it and the name of the app that answered. */
async function connect(): Promise<{ socket: WebSocket; app: string; closed: Promise<[number, string]> }> {
  const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/`, { headers: { host: HOST } });
  const closed = once(socket, 'close').then(([code, reason]) => [code as number, String(reason)] as [number, string]);
  const [first] = await once(socket, 'message');
  return { socket, app: String(first), closed };
}

test('a socket to a release that was retired gets 1001 (going away) after the drain period, on both sides; a new one reaches the live release', { timeout: 30_000 }, async () => {
  const { app, closed } = await connect();
  assert.equal(app, 'v1');
  // A cutover: the old release is superseded, so it leaves routing (its preview host too).
  await t.tx([["UPDATE deployments SET status = 'superseded' WHERE id = $1", [chat.deploymentIds[0]]]]);
  const epoch = await setLive(t, chat.projectId, chat.deploymentIds[1]!, true);
  await eventually('the reload', async () => proxy.epoch() >= epoch);
  assert.deepEqual(await closed, [1001, 'the app instance was retired']);
  await eventually('the retired app to see the close', async () => apps.v1!.closes.length === 1);
  assert.deepEqual(apps.v1!.closes, [1001]);
  const again = await connect();
  assert.equal(again.app, 'v2');
  again.socket.close(1000);
  await again.closed;
});

test('an app instance that goes away without a close frame gives the client 1001, not 1000', { timeout: 30_000 }, async () => {
  const epoch = await setLive(t, chat.projectId, chat.deploymentIds[2]!, true);
  await eventually('the reload', async () => proxy.epoch() >= epoch);
  const { app, closed } = await connect();
  assert.equal(app, 'v3');
  for (const c of apps.v3!.wss.clients) c.terminate(); // what a stopped or crashed app looks like
  assert.equal((await closed)[0], 1001);
});
