/**
 * Installer scenarios against a running stack: `curl <api>/install.sh | sh -s -- …` as a user runs
 * it, into a temporary prefix with --no-systemd. Called from agent-lifecycle.test.ts to share its stack.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../../dev/ports.js';
import { waitFor } from '../../dev/processes.js';
import type { Stack } from '../../dev/stack.js';
import { taskGroupsUnder } from './agent-support.js';

interface Run {
  code: number;
  stderr: string;
}

/** `curl -fsSL <api>/install.sh | sh -s -- args` with the given PATH. */
function install(apiUrl: string, args: string[], path = process.env.PATH ?? ''): Promise<Run> {
  const quoted = args.map((a) => `'${a}'`).join(' ');
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', `curl -fsSL ${apiUrl}/install.sh | sh -s -- ${quoted}`], { env: { PATH: path, HOME: process.env.HOME ?? '/root' }, timeout: 120_000 },
      (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }));
  });
}

export function installerTests(stack: () => Stack, stateDir: () => string, sql: (text: string, args?: unknown[]) => Promise<any[]>): void {
  let prefix: string;
  after(async () => {
    const pidFile = join(prefix, 'agent.pid');
    if (prefix && existsSync(pidFile)) {
      try {
        process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGTERM'); // the agent this test installed
      } catch {
        // already gone
      }
    }
    // Its tasks outlive it by design (no stop-on-exit in an installed agent): end them here, or they
    // keep holding task ports that later suites on this machine may be given.
    for (const group of prefix ? taskGroupsUnder(prefix) : []) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  test('install.sh refuses a bad join token and a missing Node.js with clear errors', async () => {
    prefix = await mkdtemp(join(tmpdir(), 'zectre-install-'));
    const bad = await install(stack().apiUrl, ['--join-token', 'zj_not-a-token', '--prefix', prefix, '--no-systemd']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /the join token was refused by http:\/\/127\.0\.0\.1:\d+ \(invalid, expired or revoked\)/);
    // A PATH with sh and curl but no node.
    const bin = join(prefix, 'bin-without-node');
    await mkdir(bin);
    for (const tool of ['sh', 'curl']) await symlink(`/usr/bin/${tool}`, join(bin, tool));
    const noNode = await install(stack().apiUrl, ['--join-token', 'x', '--prefix', prefix, '--no-systemd'], bin);
    assert.notEqual(noNode.code, 0);
    assert.match(noNode.stderr, /Node\.js 20 or newer is required, but 'node' is not on PATH/);
  });

  test('install.sh into a temporary prefix with --no-systemd yields a node the scheduler lists as ready, with its {nodeId} push URL', { timeout: 150_000 }, async () => {
    const { joinToken } = JSON.parse(await readFile(join(stateDir(), 'credentials.json'), 'utf8')) as { joinToken: string };
    const port = await freePort();
    const run = await install(stack().apiUrl, ['--join-token', joinToken, '--prefix', prefix, '--no-systemd', '--name', 'installed', '--port', String(port),
      '--push-url', 'https://{nodeId}.nodes.zectre.test/v1/desired-state']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /node n[a-z0-9]+ registered with http:\/\/127\.0\.0\.1:\d+/);
    const nodes = await waitFor('the installed node listed as ready', async () => {
      const res = await fetch(`${stack().apiUrl}/api/v1/nodes`, { headers: { authorization: `Bearer ${stack().adminToken}` } });
      const body = (await res.json()) as { nodes: { name: string; status: string }[] };
      return body.nodes.some((n) => n.name === 'installed' && n.status === 'ready') && body.nodes;
    }, 30_000);
    assert.ok(nodes);
    // Unknown at registration, the push URL arrives with the first heartbeat, node id filled in.
    await waitFor('the push URL stored', async () => {
      const [n] = await sql(`SELECT id, push_url FROM nodes WHERE name = 'installed'`);
      return n?.push_url === `https://${n?.id}.nodes.zectre.test/v1/desired-state`;
    }, 20_000);
    assert.ok(existsSync(join(prefix, 'lib/zectre-agent.mjs')), 'the bundled agent is installed');
  });
}
