/**
 * `npm start` as a user runs it, twice on the same state (Ctrl-C in between): the first start
 * deploys examples/hello, the second leaves the live release alone; each banner comes only once
 * the deployed app answers through the proxy, and says where the dashboard is and how to sign in.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { request } from 'undici';
import type { Deployment } from '../../protocol/index.js';
import { runCli } from '../../cli/run-cli.test-helper.js';
import { freePort } from '../../dev/ports.js';
import { sleep } from '../../dev/processes.js';
import { ROOT } from '../../dev/root.js';

describe('npm start, first and second start', { timeout: 600_000 }, () => {
  let dir: string;
  after(() => dir && rm(dir, { recursive: true, force: true }));

  /** Runs dev/start.ts (what `npm start` runs) until its banner; returns its output and how to stop it. */
  const start = async (env: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'dev/start.ts'], { cwd: ROOT, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    while (!/Zectre is running/.test(output)) {
      if (code !== undefined) assert.fail(`npm start exited ${code} before its banner:\n${output}`);
      await sleep(100);
    }
    return {
      output: () => output,
      stop: async () => {
        child.kill('SIGINT'); // Ctrl-C
        assert.equal(await exited, 0, output);
      },
    };
  };

  test('the second start does not redeploy the live sample app, and each banner waits until it answers', async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-npm-start-'));
    const ports = { edge: await freePort(), proxy: await freePort(), agent: await freePort() };
    const env = {
      ZECTRE_STATE_DIR: join(dir, 'state'),
      ZECTRE_CONFIG: join(dir, 'cli.json'),
      ZECTRE_EDGE_PORT: String(ports.edge),
      ZECTRE_PROXY_PORT: String(ports.proxy),
      ZECTRE_AGENT_PORT: String(ports.agent),
    };
    const hello = async () => {
      const res = await request(`http://127.0.0.1:${ports.proxy}/`, { headers: { host: 'hello.zectre.localhost' } });
      return `${res.statusCode} ${await res.body.text()}`;
    };
    const deployments = async () =>
      (JSON.parse((await runCli(['deployments', 'list', 'hello', '--json'], { ZECTRE_CONFIG: env.ZECTRE_CONFIG })).stdout) as { deployments: Deployment[] }).deployments;

    const first = await start(env);
    try {
      assert.match(first.output(), /deploying examples\/hello/);
      // No admin has a passkey yet: the banner carries the one-time setup link (at localhost: passkeys need a domain).
      assert.match(first.output(), new RegExp(`Dashboard: create the admin's passkey.*\\n +http://localhost:${ports.edge}/setup#zs_[A-Za-z0-9_-]{43}\\n`));
      assert.match(first.output(), new RegExp(`or sign in at http://localhost:${ports.edge}/ with an API token \\(npx zectre tokens create`));
      assert.match(await hello(), /^200 hello from zectre/);
      assert.equal((await deployments()).length, 1);
    } finally {
      await first.stop();
    }

    const second = await start(env);
    try {
      assert.match(second.output(), /examples\/hello is already live: not deploying it again/);
      assert.doesNotMatch(second.output(), /deploying examples\/hello…/);
      // The banner came after the restarted task was healthy: the app answers at once, no 503.
      assert.match(await hello(), /^200 hello from zectre/);
      const [only, ...more] = await deployments();
      assert.deepEqual(more, [], 'a second start made a new release');
      assert.equal(only!.status, 'live');
    } finally {
      await second.stop();
    }
  });
});
