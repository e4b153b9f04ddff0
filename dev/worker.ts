import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startChild, waitFor, type Child } from './processes.js';
import { freePort } from './ports.js';
import { ROOT } from './root.js';

export interface WorkerOptions {
  port: number;
  stateDir: string;
  /**
   * Bindings passed to the Worker (secrets and vars). PUBLIC_URL defaults to this Worker's loopback
   * URL and ZECTRE_LOCAL_STACK to "1" (the one-machine stack); pass '' to leave either unset.
   */
  vars: Record<string, string>;
  echo?: boolean;
  /** Address to listen on (default 127.0.0.1), e.g. a network namespace's own for the multi-host tests. */
  host?: string;
  /** Command prefix wrangler runs under, e.g. ['ip', 'netns', 'exec', NAME]. */
  launcher?: string[];
  /**
   * false: no devtools proxy. wrangler otherwise relays every inspector message of the Worker
   * (network events included) through a proxy Worker to its own process: at fleet scale ~2.4 ms of
   * wrangler CPU per request, ~1,900 connections to it.
   */
  inspector?: boolean;
}

/**
 * Runs its arguments with the open-files limit raised as far as allowed (workerd answered a
 * collapsing 1,000-node bench:fleet with "overloaded: socket(): Too many open files"): to 1,048,576
 * with CAP_SYS_RESOURCE, else the soft limit (often 1,024) up to the hard one.
 */
const RAISE_NOFILE = 'ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"';

/** Runs the edge Worker in workerd with `wrangler dev --local`, offline and quiet. */
export async function startWorker(opts: WorkerOptions): Promise<Child & { url: string }> {
  const host = opts.host ?? '127.0.0.1';
  const url = `http://${host}:${opts.port}`;
  const vars = { PUBLIC_URL: url, ZECTRE_LOCAL_STACK: '1', ...opts.vars };
  // An env file keeps JSON secrets intact (no argv quoting) and out of `ps` output.
  const envFile = join(opts.stateDir, 'worker.env');
  const lines = Object.entries(vars).map(([k, v]) => `${k}='${v.replace(/'/g, '')}'`);
  await writeFile(envFile, lines.join('\n') + '\n', { mode: 0o600 });
  const wrangler = join(ROOT, 'node_modules/.bin/wrangler');
  const args = ['dev', '--local', '--ip', host, '--port', String(opts.port), '--env-file', envFile,
    '--persist-to', join(opts.stateDir, 'wrangler'), '--test-scheduled', '--show-interactive-dev-session=false', '--log-level', 'warn',
    // Its devtools port defaults to 9229: two Workers on one machine (parallel suites) would collide.
    '--inspector-port', String(await freePort())];
  const [command, ...prefix] = [...(opts.launcher ?? []), 'sh', '-c', RAISE_NOFILE, 'sh', wrangler];
  const child = startChild('edge', command!, [...prefix, ...args], {
    echo: opts.echo,
    cwd: ROOT,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CI: '1',
      // The caller built dist/public already; wrangler.toml's [build] step would do it again.
      ZECTRE_ASSETS_BUILT: '1',
      // wrangler 4.86 has no flag for it: inside VS Code's debug terminal (this variable set) it
      // starts no inspector proxy; the Worker's logs still reach it as workerd's structured logs.
      ...(opts.inspector === false ? { VSCODE_INSPECTOR_OPTIONS: '{}' } : {}),
    },
  });
  await waitFor('the edge Worker (wrangler dev)', async () => (await fetch(`${url}/healthz`)).ok, 60_000, child);
  return Object.assign(child, { url });
}
