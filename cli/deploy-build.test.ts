/** `zectre deploy` says whether it builds remotely, and why, before it touches the network (the built CLI, an API that is not there). */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './run-cli.test-helper.js';

const scratch = await mkdtemp(join(tmpdir(), 'zectre-deploy-build-'));
after(() => rm(scratch, { recursive: true, force: true }));
let env: Record<string, string>;
const app = join(scratch, 'app');

before(async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  env = { ZECTRE_CONFIG: join(scratch, 'absent.json'), ZECTRE_API_URL: `http://127.0.0.1:${port}`, ZECTRE_TOKEN: 't' };
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ scripts: { start: 'node server.js' } }));
  await writeFile(join(app, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages: {} }));
});

test('a lockfile and no node_modules: builds remotely, and says so first', async () => {
  const run = await runCli(['deploy', app, '--project', 'web'], env);
  assert.equal(run.code, 1);
  assert.equal(run.stdout.split('\n')[0], 'building remotely: package-lock.json found and no node_modules (use --no-build to upload as-is)');
  assert.match(run.stderr, /^error: cannot reach the Zectre API/);
});

test('--no-build uploads as-is, --build builds anyway; with --json the decision goes to stderr', async () => {
  let run = await runCli(['deploy', app, '--project', 'web', '--no-build'], env);
  assert.equal(run.stdout.split('\n')[0], 'deploying as-is: --no-build given');
  await mkdir(join(app, 'node_modules'), { recursive: true });
  run = await runCli(['deploy', app, '--project', 'web'], env);
  assert.match(run.stdout.split('\n')[0] ?? '', /^deploying as-is: node_modules is installed \(use --build/);
  run = await runCli(['deploy', app, '--project', 'web', '--build', '--json'], env);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr.split('\n')[0], 'building remotely: --build given');
  await rm(join(app, 'node_modules'), { recursive: true });
});

test('a wrong zectre.json build section fails before anything is packed or sent', async () => {
  await writeFile(join(app, 'zectre.json'), JSON.stringify({ build: { comand: 'npm run build' } }));
  try {
    const run = await runCli(['deploy', app, '--project', 'web'], env);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error: .*zectre\.json: build: unknown key "comand"; the keys are command, install, start/);
    assert.doesNotMatch(run.stderr, /cannot reach/);
  } finally {
    await rm(join(app, 'zectre.json'));
  }
});
