/**
 * The control-plane host: its private PostgreSQL, the WebSocket bridge in front of it and the edge
 * Worker in workerd (wrangler dev), all inside the host's namespace and reached at its address.
 */
import { join } from 'node:path';
import { createAdminToken, createJoinToken } from '../../../dev/bootstrap.js';
import { buildAssets } from '../../../dev/build.js';
import { startChild, waitFor, type Child } from '../../../dev/processes.js';
import { ROOT } from '../../../dev/root.js';
import { loadOrCreateSecrets } from '../../../dev/secrets.js';
import { startWorker } from '../../../dev/worker.js';
import type { DbOptions } from '../../../sql/connect.js';
import { migrate } from '../../../sql/migrate.js';
import { inHost, type Host } from './netns.js';
import { createPostgres, PG_PORT, type PrivatePostgres } from './postgres.js';

const BRIDGE_PORT = 7432;
const WORKER_PORT = 8787;
export const APPS_DOMAIN = 'hosts.test';

export interface ControlPlane {
  apiUrl: string;
  /** How anyone on the bridge reaches the database: through the WebSocket bridge on the host's address. */
  db: DbOptions;
  pg: PrivatePostgres;
  adminToken: string;
  joinToken: string;
  worker: Child;
  stop(): Promise<void>;
}

export async function startControlPlane(host: Host, pgBin: string, stateDir: string, heartbeatIntervalMs: number, echo: boolean): Promise<ControlPlane> {
  const parts: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of parts.reverse()) await part.stop().catch(() => undefined);
  };
  try {
    const pg = await createPostgres(host, pgBin);
    parts.push({ stop: () => pg.remove() });
    const bridge = startChild('db-bridge', inHost(host)[0]!, [...inHost(host).slice(1), process.execPath, '--import', 'tsx', 'test/e2e/hosts/db-bridge.ts',
      host.address, String(PG_PORT), host.address, String(BRIDGE_PORT)], { cwd: ROOT, echo });
    parts.push(bridge);
    await waitFor('the database bridge', async () => /bridge ready/.test(bridge.output()), 30_000, bridge);
    const db: DbOptions = { databaseUrl: pg.url, wsProxy: `${host.address}:${BRIDGE_PORT}/v2` };
    await migrate(db);
    const adminToken = await createAdminToken(db);
    const joinToken = await createJoinToken(db);
    await buildAssets();
    const secrets = await loadOrCreateSecrets(join(stateDir, 'secrets.json'));
    const worker = await startWorker({
      port: WORKER_PORT,
      stateDir,
      echo,
      host: host.address,
      launcher: inHost(host),
      vars: {
        ...secrets,
        // A real deployment: PUBLIC_URL is the host's address, so the local stack's relaxed rules stay off.
        PUBLIC_URL: `http://${host.address}:${WORKER_PORT}`,
        ZECTRE_LOCAL_STACK: '',
        DATABASE_URL: db.databaseUrl,
        DB_WS_PROXY: db.wsProxy!,
        APPS_DOMAIN,
        HEARTBEAT_INTERVAL_MS: String(heartbeatIntervalMs),
      },
    });
    parts.push(worker);
    return { apiUrl: `http://${host.address}:${WORKER_PORT}`, db, pg, adminToken, joinToken, worker, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
