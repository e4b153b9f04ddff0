/**
 * Routes on disk (issue 14 point 8): a proxy started while its database is unreachable serves the
 * routes the last proxy saved, says so, and switches to the database's routes once it answers.
 * Real database behind the real bridge (stopped for the outage), real proxies, a real app.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startProxy } from './proxy.js';
import { createTestDb, eventually, seedNode, seedProject, seedTask, send, setLive, startBackend, type Backend, type TestDb } from './testing.js';

const domain = 'apps.test';
let t: TestDb;
let stateDir: string;
let v1: Backend;
let v2: Backend;
let shop: { projectId: string; deploymentIds: string[] };

before(async () => {
  t = await createTestDb();
  stateDir = join(mkdtempSync(join(tmpdir(), 'zectre-proxy-state-')), 'proxy');
  v1 = await startBackend('v1');
  v2 = await startBackend('v2');
  const node = await seedNode(t);
  shop = await seedProject(t, 'shop', 2);
  await seedTask(t, shop.deploymentIds[0]!, node, v1.port);
  await seedTask(t, shop.deploymentIds[1]!, node, v2.port);
  await setLive(t, shop.projectId, shop.deploymentIds[0]!, true);
}, { timeout: 60_000 });

after(async () => {
  await t?.restartBridge().catch(() => {});
  await v1?.kill();
  await v2?.kill();
  await t?.drop();
  if (stateDir) rmSync(join(stateDir, '..'), { recursive: true, force: true });
}, { timeout: 30_000 });

const backendOf = async (port: number) => (await send(port, `shop.${domain}`)).json<{ backend: string }>().backend;

test('with the database unreachable at startup, a proxy serves the saved routes, says so, and reloads once the database answers', { timeout: 60_000 }, async () => {
  const first = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, stateDir, log: () => {} });
  try {
    assert.equal(await backendOf(first.port), 'v1');
  } finally {
    await first.close();
  }
  const [file] = readdirSync(stateDir);
  assert.match(file ?? '', /^routes-[0-9a-f]{16}\.json$/);
  assert.equal(statSync(join(stateDir, file!)).mode & 0o777, 0o600);
  assert.equal(statSync(stateDir).mode & 0o777, 0o700);

  await t.stopBridge();
  const logs: string[] = [];
  const proxy = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, stateDir, log: (m) => logs.push(m) });
  try {
    assert.ok(logs.some((l) => /route database unreachable at startup .*serving the routes saved at .* until it answers/.test(l)), logs.join('\n'));
    assert.equal(await backendOf(proxy.port), 'v1');
    await t.restartBridge();
    const epoch = await setLive(t, shop.projectId, shop.deploymentIds[1]!, true);
    await eventually('the routes of the database', async () => (await backendOf(proxy.port)) === 'v2', 30_000);
    assert.equal(proxy.epoch(), epoch);
    assert.ok(logs.some((l) => l.startsWith('routes loaded from the database')), logs.join('\n'));
  } finally {
    await proxy.close();
  }
});

test('with the database unreachable and nothing saved, startup fails naming both', { timeout: 30_000 }, async () => {
  const empty = join(stateDir, '..', 'empty');
  await t.stopBridge();
  try {
    await assert.rejects(
      startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, stateDir: empty, log: () => {} }),
      /cannot load routes from the database at startup \(and no routes saved in .*empty\/routes-[0-9a-f]+\.json\)/,
    );
  } finally {
    await t.restartBridge();
  }
});
