/**
 * A frozen backend (issue 14 point 2): a VM that vanished without closing its sockets looks like a
 * SIGSTOPped app process: the kernel still accepts connections and takes requests, nothing answers.
 * With two replicas, requests keep succeeding through the other one: a GET waits the shorter
 * failover time, not the full upstream timeout, then is retried there, and after consecutive
 * timeouts the frozen one is ejected. Real app processes, real proxy, real database.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { startProxy, type Proxy } from './proxy.js';
import { createTestDb, eventually, seedLiveApp, seedNode, send, type TestDb } from './testing.js';

const domain = 'apps.test';
const APP = `app.${domain}`;
const SERVER = `
  const name = process.argv[1];
  const server = require('node:http').createServer((req, res) => {
    req.resume();
    req.on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ backend: name })));
  });
  server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));`;

let t: TestDb;
let proxy: Proxy;
const logs: string[] = [];
const apps: Record<string, ChildProcess> = {};

async function startApp(name: string): Promise<number> {
  const child = spawn(process.execPath, ['-e', SERVER, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  apps[name] = child;
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return Number(/port (\d+)/.exec(line.toString())![1]);
}

before(async () => {
  t = await createTestDb();
  const node = await seedNode(t);
  await seedLiveApp(t, 'app', node, [await startApp('a'), await startApp('b')], true);
  // The full upstream timeout stays at its default (60 s): only the failover wait is short here.
  proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, failoverTimeoutMs: 500, ejectAfter: 3, ejectMs: 600_000, log: (m) => logs.push(m) });
}, { timeout: 60_000 });

after(async () => {
  await proxy?.close();
  for (const child of Object.values(apps)) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await t?.drop();
}, { timeout: 30_000 });

test('one of two replicas frozen: GETs keep succeeding through the other, and the frozen one is ejected', { timeout: 60_000 }, async () => {
  const backendOf = async () => {
    const res = await send(proxy.port, APP, '/');
    assert.equal(res.status, 200, res.body.toString());
    return res.json<{ backend: string }>().backend;
  };
  await eventually('both replicas to answer', async () => new Set([await backendOf(), await backendOf(), await backendOf()]).size === 2);
  apps.a!.kill('SIGSTOP');
  const answered: string[] = [];
  // Five clients at a time, until the proxy has ejected the frozen replica; every request must succeed.
  await eventually('the frozen replica to be ejected', async () => {
    answered.push(...(await Promise.all([1, 2, 3, 4, 5].map(() => backendOf()))));
    return logs.some((l) => /backend 127\.0\.0\.1:\d+ ejected for 600000 ms after 3 consecutive failures \(last: UPSTREAM_HEADERS_TIMEOUT\)/.test(l));
  }, 45_000);
  assert.ok(answered.every((b) => b === 'b'), answered.join(','));
  for (let i = 0; i < 5; i++) assert.equal(await backendOf(), 'b');
});
