/**
 * The control plane alone, as dev/stack.ts starts it but without agent and proxy: a throwaway
 * database (migrated), a counting bridge in front of it for the Worker, the Worker in workerd, an
 * admin token and a join token. The bench reaches the database through a bridge of its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge, type Bridge } from './bridge.js';
import { BackendCpu, WorkerCpu } from './bench-fleet-cpu.js';
import { workerSocketUrl } from './bench-fleet-direct.js';
import { createAdminToken, createJoinToken } from './bootstrap.js';
import { buildAssets } from './build.js';
import { openDatabase, type LocalDatabase } from './database.js';
import { freePort } from './ports.js';
import type { Child } from './processes.js';
import { postgresBinaries, startPrivatePostgres, type PrivatePostgres } from './bench-fleet-postgres.js';
import { ErrorCounts } from './bench-fleet-stats.js';
import type { Teardown } from './bench-fleet-teardown.js';
import { loadOrCreateSecrets } from './secrets.js';
import { startWorker } from './worker.js';

export interface FleetStack {
  /** The Worker's own workerd socket (bench-fleet-direct.ts), or wrangler's proxy if it was not found. */
  apiUrl: string;
  /** wrangler dev's URL: its proxy in front of the Worker. */
  proxyUrl: string;
  adminToken: string;
  joinToken: string;
  db: LocalDatabase;
  /** The Worker's only way to the database: counts its round trips and connections. */
  bridge: Bridge;
  backendCpu: BackendCpu;
  workerCpu: WorkerCpu;
  worker: Child;
  /** The Worker's output lines, with ids and numbers masked so repeats of one message count together. */
  workerLog: ErrorCounts;
  /** CPU seconds of the whole PostgreSQL server, when it is the bench's own. */
  serverCpu?: () => number;
}

/** Each part is added to `teardown` as soon as it runs, so an error or a Ctrl-C midway stops it too. */
export async function startFleetStack(opts: { postgres: string; intervalMs: number; echo: boolean }, teardown: Teardown): Promise<FleetStack> {
  const dir = await mkdtemp(join(tmpdir(), 'zectre-fleet-'));
  teardown.add(() => rm(dir, { recursive: true, force: true }));
  let server: PrivatePostgres | undefined;
  if (opts.postgres === 'private') {
    server = await startPrivatePostgres(postgresBinaries()!);
    teardown.add(() => server!.stop());
  }
  const name = `zectre_fleet_${process.pid}_${Date.now().toString(36)}`;
  const db = await openDatabase({ kind: 'postgres', url: `${server?.url ?? opts.postgres}/${name}`, throwaway: true });
  teardown.add(() => db.close());
  const target = new URL(db.options.databaseUrl);
  const backendCpu = new BackendCpu();
  const bridge = await startBridge({ host: target.hostname, port: Number(target.port || 5432) }, 0, false, backendCpu.hooks);
  teardown.add(() => bridge.close());

  await buildAssets();
  const secrets = await loadOrCreateSecrets(join(dir, 'secrets.json'));
  const worker = await startWorker({
    port: await freePort(),
    stateDir: dir,
    echo: opts.echo,
    inspector: false,
    vars: {
      ...secrets,
      DATABASE_URL: db.options.databaseUrl,
      DB_WS_PROXY: `127.0.0.1:${bridge.port}/v2`,
      HEARTBEAT_INTERVAL_MS: String(opts.intervalMs),
    },
  });
  teardown.add(() => worker.stop());
  const workerLog = new ErrorCounts();
  const onOutput = (chunk: Buffer) => {
    // wrangler colours its lines even without a terminal.
    for (const raw of chunk.toString().replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
      const line = raw.trim();
      if (line) workerLog.add(maskIds(line).slice(0, 200), line);
    }
  };
  worker.proc.stdout!.on('data', onOutput);
  worker.proc.stderr!.on('data', onOutput);
  return {
    apiUrl: (await workerSocketUrl(worker.proc.pid!, worker.url)) ?? worker.url,
    proxyUrl: worker.url,
    adminToken: await createAdminToken(db.options),
    joinToken: await createJoinToken(db.options),
    db,
    bridge,
    backendCpu,
    workerCpu: new WorkerCpu(worker.proc.pid!),
    worker,
    workerLog,
    serverCpu: server?.serverCpu,
  };
}

function maskIds(line: string): string {
  return line.replace(/\b[a-z]?[0-9a-z]*\d[0-9a-z]*\b/g, '#');
}
