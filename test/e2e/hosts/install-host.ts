/**
 * A worker host set up as a user would: `curl <api>/install.sh | sh` inside the host's namespace,
 * agent and proxy with --no-systemd into a prefix of its own, the node known by the host's address.
 * Its processes (agent, proxy, tasks) live in the namespace: removing the hosts ends them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../../dev/root.js';
import { createProxyRole } from '../../../sql/proxy-role.js';
import { APPS_DOMAIN, type ControlPlane } from './control-plane.js';
import { inHost, PREFIX, type Host } from './netns.js';

export const PROXY_PORT = 8080;

export interface WorkerHost extends Host {
  name: string;
  prefix: string;
  nodeId: string;
  proxyUrl: string;
}

/**
 * The namespaces have no route to the npm registry: install.sh's `npm install` of the agent's one
 * native package runs offline there, from the cache this fills from the root namespace.
 */
export async function warmNpmCache(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `${PREFIX}npm-`));
  try {
    const spec = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies['uWebSockets.js'];
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'warm', private: true, dependencies: { 'uWebSockets.js': spec } }));
    await new Promise<void>((resolve, reject) => execFile('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir, timeout: 120_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`filling the npm cache for install.sh failed: ${stderr}`)) : resolve())));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How often `text` occurs in the host's agent.log or proxy.log (install.sh --no-systemd writes them into the prefix). */
export async function logCount(host: WorkerHost, part: 'agent' | 'proxy', text: string): Promise<number> {
  return (await readFile(join(host.prefix, `${part}.log`), 'utf8')).split(text).length - 1;
}

function shInHost(host: Host, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(inHost(host)[0]!, [...inHost(host).slice(1), '/bin/sh', '-c', script], {
      // See warmNpmCache.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', npm_config_offline: 'true' },
      timeout: 180_000,
    },
      (err, _stdout, stderr) => (err ? reject(new Error(`${script.slice(0, 200)} failed in ${host.ns}: ${stderr}`)) : resolve(stderr)));
  });
}

export async function installHost(host: Host, name: string, cp: ControlPlane): Promise<WorkerHost> {
  const prefix = await mkdtemp(join(tmpdir(), `${PREFIX}${name}-`));
  const role = await createProxyRole(cp.db, name);
  const args = ['--join-token', cp.joinToken, '--prefix', prefix, '--no-systemd', '--name', name, '--address', host.address,
    // Plain-http push URLs are refused off the local stack and there is no DNS here: the agent polls.
    '--push-url', `https://{nodeId}.nodes.${APPS_DOMAIN}/v1/desired-state`,
    '--proxy-database-url', role.databaseUrl, '--proxy-port', String(PROXY_PORT), '--proxy-env', `ZECTRE_DB_WS_PROXY=${cp.db.wsProxy}`];
  await shInHost(host, `curl -fsSL ${cp.apiUrl}/install.sh | sh -s -- ${args.map((a) => `'${a}'`).join(' ')}`);
  const identity = JSON.parse(await readFile(join(prefix, 'state/identity.json'), 'utf8')) as { nodeId: string };
  return {
    ...host,
    name,
    prefix,
    nodeId: identity.nodeId,
    proxyUrl: `http://${host.address}:${PROXY_PORT}`,
  };
}
