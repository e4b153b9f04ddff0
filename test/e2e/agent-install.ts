/**
 * Installer scenarios against a running stack: `curl <api>/install.sh | sh -s -- …` as a user runs
 * it, into a temporary prefix with --no-systemd. Called from agent-lifecycle.test.ts to share its stack.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { request } from 'undici';
import { freePort } from '../../dev/ports.js';
import { waitFor } from '../../dev/processes.js';
import type { Stack } from '../../dev/stack.js';
import { createProxyRole } from '../../sql/proxy-role.js';
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
    if (prefix && existsSync(prefix)) await install(stack().apiUrl, ['--uninstall', '--prefix', prefix]);
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
    const bad = await install(stack().apiUrl, ['--join-token', 'zj_not-a-token', '--prefix', prefix, '--no-systemd', '--no-proxy']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /the join token was refused by http:\/\/127\.0\.0\.1:\d+ \(invalid, expired or revoked\)/);
    // A PATH with sh and curl but no node.
    const bin = join(prefix, 'bin-without-node');
    await mkdir(bin);
    for (const tool of ['sh', 'curl']) await symlink(`/usr/bin/${tool}`, join(bin, tool));
    const noNode = await install(stack().apiUrl, ['--join-token', 'x', '--prefix', prefix, '--no-systemd', '--no-proxy'], bin);
    assert.notEqual(noNode.code, 0);
    assert.match(noNode.stderr, /Node\.js 20 or newer is required, but 'node' is not on PATH/);
    const noProxyUrl = await install(stack().apiUrl, ['--join-token', 'x', '--prefix', prefix, '--no-systemd']);
    assert.notEqual(noProxyUrl.code, 0);
    assert.match(noProxyUrl.stderr, /missing --proxy-database-url: on the control plane run .*npm run proxy-role -- <this VM>.* or pass --no-proxy/);
  });

  let proxyPort = 0;
  test('install.sh into a temporary prefix with --no-systemd: agent and proxy as built JavaScript; the node is ready with its {nodeId} push URL, the proxy routes with its own database role', { timeout: 150_000 }, async () => {
    const { joinToken } = JSON.parse(await readFile(join(stateDir(), 'credentials.json'), 'utf8')) as { joinToken: string };
    const port = await freePort();
    proxyPort = await freePort();
    // PGlite has one user: there the proxy shares the control plane's.
    const role = stack().db.kind === 'postgres' ? await createProxyRole(stack().db.options, 'installed', null) : { databaseUrl: stack().db.options.databaseUrl };
    const run = await install(stack().apiUrl, ['--join-token', joinToken, '--prefix', prefix, '--no-systemd', '--name', 'installed', '--port', String(port),
      '--push-url', 'https://{nodeId}.nodes.zectre.test/v1/desired-state',
      '--proxy-database-url', role.databaseUrl, '--proxy-port', String(proxyPort), '--proxy-env', `ZECTRE_DB_WS_PROXY=${stack().db.options.wsProxy}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /node n[a-z0-9]+ registered with http:\/\/127\.0\.0\.1:\d+; installed in .*; proxy on port \d+/);
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
    // Both run the bundles, not TypeScript.
    for (const [name, bundle] of [['agent', 'zectre-agent.mjs'], ['proxy', 'zectre-proxy.mjs']]) {
      const pid = (await readFile(join(prefix, `${name}.pid`), 'utf8')).trim();
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      assert.ok(cmdline.some((a) => a.endsWith(`lib/${bundle}`)) && !cmdline.some((a) => /tsx|\.ts$/.test(a)), `${name} runs ${cmdline.join(' ')}`);
    }
    // The proxy loaded the routes through the routing views: a live app is routed, an unknown host is a 404.
    // undici's request, not fetch: fetch does not let a caller set Host.
    const viaProxy = async (host: string) => {
      const res = await request(`http://127.0.0.1:${proxyPort}/`, { headers: { host } });
      return { status: res.statusCode, body: await res.body.text() };
    };
    const unknown = await viaProxy(`nobody.${stack().appsDomain}`);
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.body) as { error: { code: string } }).error.code, 'unknown_host');
    const [live] = await sql('SELECT slug FROM routing.projects WHERE live_deployment_id IS NOT NULL LIMIT 1');
    assert.ok(live, 'the suite deployed nothing for the installed proxy to route');
    const known = await viaProxy(`${live.slug}.${stack().appsDomain}`);
    assert.notEqual(known.status, 404, `the installed proxy does not know ${live.slug}: ${known.body}`);
  });

  test('install.sh --uninstall stops the agent, the proxy and their tasks, and leaves nothing in the prefix', { timeout: 60_000 }, async () => {
    const pids = await Promise.all(['agent', 'proxy'].map(async (n) => Number(await readFile(join(prefix, `${n}.pid`), 'utf8'))));
    const run = await install(stack().apiUrl, ['--uninstall', '--prefix', prefix]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /uninstalled/);
    assert.equal(existsSync(prefix), false, `${prefix} is still there`);
    await waitFor('the agent and the proxy to exit', async () => pids.every((pid) => !existsSync(`/proc/${pid}`) || /^Z/m.test(procState(pid))), 30_000);
    assert.equal(taskGroupsUnder(prefix).size, 0, 'tasks of the uninstalled agent still run');
    const refused = await fetch(`http://127.0.0.1:${proxyPort}/`).then(() => 'answered', () => 'refused');
    assert.equal(refused, 'refused');
  });
}

function procState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('State:'))?.slice(7).trim() ?? '';
  } catch {
    return '';
  }
}
