import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { detectStartCommand, resourceRequest } from './start-command.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zectre-start-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test("runs npm start when package.json has a start script, or a server.js that npm start would run", async () => {
  await writeFile(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'node app.js' } }));
  assert.deepEqual(await detectStartCommand(dir), { command: 'npm start', source: 'package.json' });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app' }));
  await assert.rejects(detectStartCommand(dir), /nothing says how to start/);
  await writeFile(join(dir, 'server.js'), '');
  assert.deepEqual(await detectStartCommand(dir), { command: 'npm start', source: 'package.json' });
});

test('a folder with no start command is an error that lists the ways to give one', async () => {
  await writeFile(join(dir, 'index.js'), 'require("http")');
  await assert.rejects(detectStartCommand(dir), /nothing says how to start .*package\.json, a Procfile with a web: line, or zectre\.json .*--cmd/);
  assert.deepEqual(await detectStartCommand(dir, 'node index.js'), { command: 'node index.js', source: '--cmd' });
});

test("uses the Procfile's web: line", async () => {
  await writeFile(join(dir, 'Procfile'), 'worker: node worker.js\nweb:   node web.js --port $PORT  \n');
  assert.deepEqual(await detectStartCommand(dir), { command: 'node web.js --port $PORT', source: 'Procfile' });
});

test('ignores a Procfile without web:', async () => {
  await writeFile(join(dir, 'Procfile'), 'worker: node worker.js\n');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'node app.js' } }));
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

test("resources: --cpu/--memory over zectre.json's, within the API's bounds", async () => {
  assert.deepEqual(await resourceRequest(dir, {}), {});
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ resources: { cpuMillis: 250, memoryMb: 512 } }));
  assert.deepEqual(await resourceRequest(dir, { memoryMb: 1024 }), { cpuMillis: 250, memoryMb: 1024 });
  await assert.rejects(resourceRequest(dir, { memoryMb: 8 }), /--memory \(MB\): .*>=16/);
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ resources: { memoryMb: 'lots' } }));
  await assert.rejects(resourceRequest(dir, {}), /zectre\.json: resources\.memoryMb/);
});

test('a broken zectre.json is an error naming the file', async () => {
  await writeFile(join(dir, 'zectre.json'), '{ nope');
  await assert.rejects(detectStartCommand(dir), /zectre\.json is not valid JSON/);
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ healthcheck: { path: 'health' } }));
  await assert.rejects(detectStartCommand(dir), /zectre\.json: healthcheck\.path/);
});
