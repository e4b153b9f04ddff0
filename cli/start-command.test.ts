import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { detectStartCommand } from './start-command.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zectre-start-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test('defaults to npm start', async () => {
  assert.deepEqual(await detectStartCommand(dir), { command: 'npm start', source: 'default' });
});

test("uses the Procfile's web: line", async () => {
  await writeFile(join(dir, 'Procfile'), 'worker: node worker.js\nweb:   node web.js --port $PORT  \n');
  assert.deepEqual(await detectStartCommand(dir), { command: 'node web.js --port $PORT', source: 'Procfile' });
});

test('ignores a Procfile without web:', async () => {
  await writeFile(join(dir, 'Procfile'), 'worker: node worker.js\n');
  assert.equal((await detectStartCommand(dir)).command, 'npm start');
});

test('zectre.json beats the Procfile and brings its health check path', async () => {
  await writeFile(join(dir, 'Procfile'), 'web: node web.js\n');
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ command: 'node server.js', healthcheck: { path: '/healthz' } }));
  assert.deepEqual(await detectStartCommand(dir), { command: 'node server.js', source: 'zectre.json', healthCheckPath: '/healthz' });
});

test('zectre.json without a command falls through but keeps its health check', async () => {
  await writeFile(join(dir, 'Procfile'), 'web: node web.js\n');
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ healthcheck: { path: '/up' } }));
  assert.deepEqual(await detectStartCommand(dir), { command: 'node web.js', source: 'Procfile', healthCheckPath: '/up' });
});

test('--cmd overrides everything', async () => {
  await writeFile(join(dir, 'Procfile'), 'web: node web.js\n');
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ command: 'node server.js' }));
  assert.deepEqual(await detectStartCommand(dir, 'python -m http.server'), { command: 'python -m http.server', source: '--cmd' });
});

test('a broken zectre.json is an error naming the file', async () => {
  await writeFile(join(dir, 'zectre.json'), '{ nope');
  await assert.rejects(detectStartCommand(dir), /zectre\.json is not valid JSON/);
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ healthcheck: { path: 'health' } }));
  await assert.rejects(detectStartCommand(dir), /zectre\.json: healthcheck\.path/);
});
