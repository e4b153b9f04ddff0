/**
 * Issue 13 through the real `zectre` binary: a TypeScript + Express app with a real lockfile and no
 * node_modules is built on a builder-labelled agent, its build streams in the deploy output, and it
 * goes live through the proxy; a second deploy with the same lockfile reports a cache hit; a type
 * error fails the deploy with tsc's message and exit 1 while the live release keeps serving; `.env`
 * never leaves the machine; Ctrl-C leaves the build (and its release) running. Needs the npm
 * registry (the builder runs `npm ci`).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Build, Deployment } from '../../protocol/index.js';
import { lockDependencies, writeTsApp } from '../../dev/bench-build-app.js';
import { sleep } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { spawn } from 'node:child_process';
import { builtCli, runCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';

const echo = process.env.ZECTRE_TEST_ECHO === '1';

describe('zectre deploy builds a source app on a builder', { timeout: 1_200_000 }, () => {
  let stack: Stack;
  let dir: string;
  let app: string;
  let env: Record<string, string>;
  const zectre = (...args: string[]): Promise<CliRun> => runCli(args, env, undefined, 900_000);
  const ok = async (...args: string[]): Promise<CliRun> => {
    const run = await zectre(...args);
    assert.equal(run.code, 0, `zectre ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run;
  };
  const get = async (path: string): Promise<string> => {
    const res = await request(`${stack.proxyUrl}${path}`, { headers: { host: `tsapp.${stack.appsDomain}` } }).catch(() => null);
    return res ? `${res.statusCode} ${await res.body.text()}` : 'no answer';
  };
  /** The proxy's answer once it matches (the routes reach every proxy shortly after "live"); the bound only catches a hang. */
  const serves = async (path: string, want: RegExp): Promise<string> => {
    const deadline = Date.now() + 60_000;
    let last = await get(path);
    while (!want.test(last)) {
      if (Date.now() > deadline) assert.fail(`${path} answered ${last}, not ${want}`);
      await sleep(200);
      last = await get(path);
    }
    return last;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-builds-cli-'));
    app = join(dir, 'app');
    await writeTsApp(app, { version: 'v1' });
    await lockDependencies(app);
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('builds_cli'),
      heartbeatIntervalMs: 1000,
      echo,
      agentEnv: { ZECTRE_AGENT_LABELS: 'builder', ZECTRE_AGENT_PORT_RANGE: taskPortRange(100), ZECTRE_AGENT_BUILD_POLL_MS: '250' },
    });
    env = { ZECTRE_CONFIG: join(dir, 'cli.json') };
    await ok('login', '--api', stack.apiUrl, '--token', stack.adminToken);
    await ok('projects', 'create', 'tsapp');
  });
  after(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('deploy DIR: says it builds remotely and why, streams the plan, steps and tsc/npm output, goes live; .env is not uploaded', async () => {
    const run = await ok('deploy', app, '--project', 'tsapp');
    const out = run.stdout;
    assert.match(out, /^building remotely: package-lock\.json found and no node_modules \(use --no-build to upload as-is\)$/m);
    assert.match(out, /^build plan \(npm, Node\.js v\d+/m);
    assert.match(out, /^ {2}install {2}npm ci$/m);
    assert.match(out, /^ {2}build {4}npm run build$/m);
    // Steps are sampled (the build's current step): a step shorter than a poll may not show; npm ci's does.
    assert.match(out, /^step: install$/m);
    assert.match(out, /^--> \$ npm run build$/m);
    assert.match(out, /^cache: miss/m);
    assert.match(out, /^ {2}.*added \d+ packages/m, 'npm ci output streamed');
    assert.match(out, /^ {2}> tsc -p \.$/m, 'the build script streamed');
    assert.match(out, /^build b\S+ succeeded/m);
    assert.match(out, /^live at /m);
    assert.match(await serves('/', /hello from ts v1/), /^200 /);
    assert.equal(await serves('/dotenv', /\.env/), '200 no .env file\n');
  });

  test('a second deploy with the same lockfile reports a cache hit', async () => {
    await writeTsApp(app, { version: 'v2' });
    const run = await ok('deploy', app, '--project', 'tsapp');
    assert.match(run.stdout, /^cache: hit/m);
    assert.match(run.stdout, /^live at /m);
    await serves('/', /hello from ts v2/);
  });

  test('a TypeScript error fails the deploy with the compiler message and exit 1; the live release keeps serving', async () => {
    await writeTsApp(app, { version: 'v3', typeError: true });
    const run = await zectre('deploy', app, '--project', 'tsapp');
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /error TS2322: Type 'string' is not assignable to type 'number'/, 'tsc output streamed');
    assert.match(run.stderr, /^error: build (b\S+) failed at step build: .*\(full log: zectre builds logs \1\) \(build_failed\)$/m);
    assert.match(run.stderr, /TS2322/, 'the error shows the failing step\'s last lines');
    assert.doesNotMatch(run.stdout, /live at/);
    assert.match(await get('/'), /^200 hello from ts v2/);

    const id = /^error: build (b\S+) failed/m.exec(run.stderr)![1]!;
    const logs = await ok('builds', 'logs', id);
    assert.match(logs.stdout, /error TS2322/);
    const list = JSON.parse((await ok('builds', 'list', 'tsapp', '--json')).stdout) as { builds: Build[] };
    assert.deepEqual(list.builds.map((b) => b.status), ['failed', 'succeeded', 'succeeded']);
    assert.equal(list.builds[0]!.id, id);
    const deployments = await ok('deployments', 'list', 'tsapp');
    assert.match(deployments.stdout, /^builds without a deployment/m);
    assert.match(deployments.stdout, new RegExp(`^${id} +failed +build `, 'm'));
    const status = await ok('status', 'tsapp');
    assert.match(status.stdout, /^recent builds/m);
    assert.match(status.stdout, new RegExp(`^${id} +failed`, 'm'));
    const live = JSON.parse((await ok('deployments', 'list', 'tsapp', '--json')).stdout) as { deployments: Deployment[] };
    assert.equal(live.deployments.filter((d) => d.status === 'live').length, 1);
  });

  test('Ctrl-C stops following, not the build: it goes live, and builds logs -f follows it to the end', async () => {
    await writeTsApp(app, { version: 'v4' });
    const child = spawn(process.execPath, [await builtCli(), 'deploy', app, '--project', 'tsapp'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 120_000;
    while (!/^build b\S+ queued/m.test(output)) {
      if (Date.now() > deadline) assert.fail(`no build was queued:\n${output}`);
      await sleep(50);
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130, output);
    const id = /^build (b\S+) queued/m.exec(output)![1]!;
    assert.match(output, new RegExp(`stopped following build ${id}: the build continues on the server; follow it with zectre builds logs ${id} -f \\(interrupted\\)`));

    const follow = await ok('builds', 'logs', id, '-f');
    assert.match(follow.stdout, /> tsc -p \./);
    assert.match(follow.stderr, new RegExp(`^build ${id} succeeded: deployment d\\S+`, 'm'));
    await serves('/', /hello from ts v4/);
  });
});
