/**
 * The spine, end to end, as a user runs it: the stack with the edge in workerd, the real CLI binary,
 * a real agent running examples/hello, the real proxy answering by Host header.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Deployment } from '../../protocol/index.js';
import { ROOT } from '../../dev/root.js';
import { sleep } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { runCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { testDatabase } from '../support/database.js';
import { badInputTests } from './bad-input.js';

export function spineScenario(dbKind: string): void {
  describe(`spine end to end on ${dbKind}`, { timeout: 240_000 }, () => {
    let stack: Stack;
    let dir: string;
    let cliEnv: Record<string, string>;
    const zectre = async (...args: string[]): Promise<CliRun> => runCli(args, cliEnv);
    const viaProxy = async (host: string) => {
      // undici.request, not fetch: fetch does not let a caller set Host.
      const res = await request(`${stack.proxyUrl}/`, { headers: { host } });
      return { status: res.statusCode, body: await res.body.text() };
    };
    /** Polls until `check` holds. The bound only catches a hang: a loaded machine is slow, not wrong. */
    const until = async (what: string, check: () => Promise<boolean>, detail = () => '') => {
      const deadline = Date.now() + 90_000;
      while (!(await check())) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${detail()}`);
        await sleep(100);
      }
    };
    /** Polls the proxy until `host` answers `want` (routing reloads asynchronously). */
    const eventually = async (host: string, want: RegExp) => {
      let last = { status: 0, body: '' };
      await until(`${host} to answer ${want} through the proxy`, async () => {
        last = await viaProxy(host).catch((e) => ({ status: -1, body: String(e) }));
        return last.status === 200 && want.test(last.body);
      }, () => `; last answer ${last.status} ${last.body}`);
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'zectre-e2e-'));
      stack = await startStack({ dir: join(dir, 'state'), db: testDatabase('e2e', dbKind), heartbeatIntervalMs: 1000, echo: process.env.ZECTRE_TEST_ECHO === '1' });
      cliEnv = { ZECTRE_CONFIG: join(dir, 'cli.json') };
    });
    after(async () => {
      await stack?.stop();
    });

    let first: Deployment;
    let second: Deployment;
    const app = () => join(dir, 'hello');

    test('the CLI logs in and creates a project', async () => {
      const login = await zectre('login', '--api', stack.apiUrl, '--token', stack.adminToken);
      assert.equal(login.code, 0, login.stderr);
      const created = await zectre('projects', 'create', 'hello');
      assert.equal(created.code, 0, created.stderr);
      const list = await zectre('projects', 'list', '--json');
      assert.deepEqual(JSON.parse(list.stdout).projects.map((p: { name: string }) => p.name), ['hello']);
    });

    test('zectre deploy examples/hello goes live and the proxy serves it by Host', async () => {
      await cp(join(ROOT, 'examples/hello'), app(), { recursive: true });
      const run = await zectre('deploy', app(), '--project', 'hello', '--json');
      assert.equal(run.code, 0, `deploy failed:\n${run.stdout}\n${run.stderr}`);
      first = JSON.parse(run.stdout);
      assert.equal(first.status, 'live');
      assert.match(run.stderr, /\nuploaded sha256:/);
      assert.doesNotMatch(run.stderr, /already uploaded/);
      assert.match(run.stderr, /live at http:\/\/hello\.zectre\.localhost:\d+\//);
      assert.match(run.stderr, /preview at http:\/\/d[a-z0-9]+--hello\.zectre\.localhost:\d+\//);
      await eventually(`hello.${stack.appsDomain}`, /hello from zectre \(version 1\)/);
    });

    test('a changed version replaces it; the old one stays reachable by its preview URL', async () => {
      const server = join(app(), 'server.js');
      const source = await readFile(server, 'utf8');
      assert.match(source, /HELLO_VERSION \|\| '1'/);
      await writeFile(server, source.replace("HELLO_VERSION || '1'", "HELLO_VERSION || '2'"));
      const run = await zectre('deploy', app(), '--project', 'hello', '--json');
      assert.equal(run.code, 0, `deploy failed:\n${run.stdout}\n${run.stderr}`);
      second = JSON.parse(run.stdout);
      assert.notEqual(second.artifact, first.artifact);
      await eventually(`hello.${stack.appsDomain}`, /version 2/);
      await eventually(`${first.id}--hello.${stack.appsDomain}`, /version 1/);
      await eventually(`${second.id}--hello.${stack.appsDomain}`, /version 2/);
    });

    test('zectre logs shows the lines the app wrote', async () => {
      let run: CliRun | undefined;
      await until('a request line in the logs', async () => {
        run = await zectre('logs', 'hello', '--json');
        return run.code === 0 && /GET \/ 200/.test(run.stdout);
      }, () => `; last: ${run?.stdout.slice(0, 2000)}${run?.stderr}`);
      assert.equal(run!.code, 0, run!.stderr);
      const lines = run!.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: string; taskId: string });
      assert.ok(lines.some((l) => l.line === 'GET / 200'), `no request line in ${run!.stdout.slice(0, 2000)}`);
      assert.ok(lines.some((l) => /listening on \d+/.test(l.line)));
    });

    test('a deployment that never turns healthy fails, the CLI says why, and the live one keeps serving', async () => {
      const run = await zectre('deploy', app(), '--project', 'hello', '--cmd', 'echo crashing; exit 3', '--deadline', '5');
      assert.equal(run.code, 1, `expected exit 1:\n${run.stdout}\n${run.stderr}`);
      // The tree is the one deployed just before: packed to the same digest, asked about, not uploaded again.
      assert.ok(run.stdout.includes(`\nartifact ${second.artifact.slice(0, 19)}… already uploaded, skipping\n`), run.stdout);
      assert.doesNotMatch(run.stdout, /uploading|uploaded sha256/);
      assert.match(run.stderr, /failed: not healthy before its deadline/);
      assert.match(run.stderr, /exit code 3/);
      const status = JSON.parse((await zectre('status', 'hello', '--json')).stdout);
      assert.equal(status.project.liveDeploymentId, second.id);
      await eventually(`hello.${stack.appsDomain}`, /version 2/);
    });

    test('env vars: set, list hidden, reveal, unset; the next deployment gets them', async () => {
      assert.equal((await zectre('env', 'set', 'hello', 'HELLO_VERSION=3', 'SECRET_TOKEN=s3cr3t')).code, 0);
      const hidden = await zectre('env', 'list', 'hello', '--json');
      assert.equal(hidden.code, 0, hidden.stderr);
      assert.doesNotMatch(hidden.stdout, /s3cr3t/);
      assert.match(hidden.stdout, /SECRET_TOKEN/);
      const revealed = await zectre('env', 'list', 'hello', '--reveal', '--json');
      assert.match(revealed.stdout, /s3cr3t/);
      assert.equal((await zectre('env', 'unset', 'hello', 'SECRET_TOKEN')).code, 0);
      assert.doesNotMatch((await zectre('env', 'list', 'hello', '--json')).stdout, /SECRET_TOKEN/);
      const missing = await zectre('env', 'unset', 'hello', 'SECRET_TOKEN');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^error: .*SECRET_TOKEN.*\(env_var_not_found\)\n$/);
    });

    test('a third deploy retires the oldest release: its tasks stop', async () => {
      const run = await zectre('deploy', app(), '--project', 'hello', '--json');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /already uploaded, skipping/);
      assert.equal((JSON.parse(run.stdout) as Deployment).artifact, second.artifact, 'the unchanged tree deploys the bytes uploaded before');
      await eventually(`hello.${stack.appsDomain}`, /version 3/);
      const status = await zectre('status', 'hello', '--json');
      assert.equal(status.code, 0, status.stderr);
      let old: Deployment | undefined;
      await until('the oldest release\'s tasks to stop', async () => {
        old = (await (await fetch(`${stack.apiUrl}/api/v1/deployments/${first.id}`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).json()) as Deployment;
        return old.tasks.every((t) => t.observedState === 'stopped');
      }, () => JSON.stringify(old?.tasks));
      assert.equal(old!.status, 'superseded');
      assert.ok(old!.tasks.every((t) => t.desiredState === 'stopped' && t.observedState === 'stopped'), JSON.stringify(old!.tasks));
      const preview = await viaProxy(`${first.id}--hello.${stack.appsDomain}`);
      assert.equal(preview.status, 503);
    });

    badInputTests(() => stack);
  });
}
