import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_ENV, PROXY_NODE_FLAGS } from '../node-proxy/launch.js';
import type { DbOptions } from '../sql/connect.js';
import { startChild, waitFor, type Child } from './processes.js';
import { ROOT } from './root.js';

/** The real proxy entry point as a child process; `cpu` pins it with taskset. Resolves once it listens. */
export async function startProxyProcess(
  db: DbOptions,
  appsDomain: string,
  opts: { cpu?: number; env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<{ child: Child; port: number }> {
  const args = [...PROXY_NODE_FLAGS, ...(opts.nodeArgs ?? []), '--import', 'tsx', 'node-proxy/main.ts'];
  const [cmd, argv] = opts.cpu === undefined ? [process.execPath, args] : ['taskset', ['-c', String(opts.cpu), process.execPath, ...args]];
  const child = startChild('proxy', cmd, argv, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...PROXY_ENV,
      DATABASE_URL: db.databaseUrl,
      ZECTRE_DB_WS_PROXY: db.wsProxy ?? '',
      ZECTRE_APPS_DOMAIN: appsDomain,
      ZECTRE_PROXY_PORT: '0',
      // Benches and tests keep the saved routes (one small file per test database) out of /var/lib.
      ZECTRE_PROXY_STATE_DIR: join(tmpdir(), 'zectre-proxy-state'),
      ...opts.env,
    },
  });
  const port = await waitFor('the proxy to listen', async () => {
    const m = /proxy ready on http:\/\/[^:]+:(\d+)/.exec(child.output());
    return m ? Number(m[1]) : undefined;
  }, 30_000, child);
  return { child, port };
}
