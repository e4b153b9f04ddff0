import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../dev/root.js';
import { runCli } from './run-cli.test-helper.js';

const scratch = await mkdtemp(join(tmpdir(), 'zectre-bin-'));
after(() => rm(scratch, { recursive: true, force: true }));
const HELLO = fileURLToPath(new URL('../examples/hello', import.meta.url));
const noConfig = { ZECTRE_CONFIG: join(scratch, 'absent.json') };

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a missing argument is a usage error: exit 2', async () => {
  const run = await runCli(['projects', 'create'], noConfig);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^error: missing required argument 'name'/);
});

test('a malformed --env is a usage error: exit 2', async () => {
  const run = await runCli(['deploy', HELLO, '--project', 'hello', '--env', 'NOEQUALS'], noConfig);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /expected KEY=VALUE/);
});

test('--help works for every command and shows an example', async () => {
  for (const args of [[], ['login'], ['projects', 'create'], ['projects', 'list'], ['deploy'], ['status'], ['logs'], ['env', 'set'], ['env', 'list'], ['env', 'unset'],
    ['logout'], ['whoami'], ['projects', 'delete'], ['deployments', 'list'], ['rollback'], ['scale'], ['nodes', 'list'],
    ['nodes', 'drain'], ['join-tokens', 'create'], ['tokens', 'create'], ['tokens', 'list'], ['tokens', 'revoke'],
    ['members', 'list'], ['members', 'invite'], ['members', 'revoke-invite'], ['members', 'set-role'], ['members', 'remove'],
    ['users', 'list'], ['users', 'disable'], ['users', 'enable'], ['events'], ['admin', 'rotate-keys'],
    ['builds', 'list'], ['builds', 'logs'], ['builds', 'cancel']]) {
    const run = await runCli([...args, '--help'], noConfig);
    assert.equal(run.code, 0, args.join(' '));
    assert.match(run.stdout, /Examples?:\n {2}\$ zectre /, args.join(' '));
  }
});

test('without a config or env it says how to log in: exit 3', async () => {
  const run = await runCli(['projects', 'list'], noConfig);
  assert.equal(run.code, 3);
  assert.match(run.stderr, /^error: not logged in .*zectre login/);
  assert.equal(run.stderr.trim().split('\n').length, 1);
});

test('an unreachable API is one line on stderr, no stack trace: exit 1', async () => {
  const apiUrl = `http://127.0.0.1:${await closedPort()}`;
  const run = await runCli(['deploy', '--project', 'hello'], { ...noConfig, ZECTRE_API_URL: apiUrl, ZECTRE_TOKEN: 't' }, HELLO);
  assert.equal(run.code, 1);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0] ?? '', new RegExp(`^error: cannot reach the Zectre API at ${apiUrl}: .*ECONNREFUSED`));
});

test('npm\'s prepare step builds the CLI that package.json "bin" names, and `npx zectre` runs it', async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; version: string };
  assert.equal(pkg.bin.zectre, 'dist/cli/zectre.js');
  // Not removed first: other test files may run dist/cli at the same time (npm start's test).
  await rm(join(ROOT, 'node_modules/.bin/zectre'), { force: true });
  const npm = (...args: string[]) => promisify(execFile)('npm', args, { cwd: ROOT });
  await npm('run', 'prepare');
  const { stdout } = await npm('exec', '--no', '--', 'zectre', '--version'); // --no: never fetch a package of that name
  assert.equal(stdout.trim(), pkg.version);
  const built = await readFile(join(ROOT, pkg.bin.zectre), 'utf8');
  assert.match(built, /^#!\/usr\/bin\/env node\n/);
  assert.doesNotMatch(built, /from\s*['"]tsx|tsx\/esm/, 'the built CLI compiles no TypeScript at run time');
});
