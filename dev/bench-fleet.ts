/**
 * `npm run bench:fleet`: the control plane (workerd + PostgreSQL through the Neon driver) against a
 * simulated fleet, a small and a large one in one run (default 10 and 1,000 nodes, 5 s interval,
 * 3 tasks per node, push on). Per size: heartbeats/s achieved vs expected, latency, workerd and
 * PostgreSQL cost per heartbeat, connections, errors, a 200-replica deployment's time to live and a
 * dead node's tasks' time to healthy elsewhere. The headline is the large/small ratio per heartbeat.
 * Exits 0 when the goals are missed (they are printed as met / NOT met); 1 when the bench itself fails.
 */
import { availableParallelism, loadavg } from 'node:os';
import { readConfig, SHARED_POSTGRES, UsageError, USAGE, type FleetConfig } from './bench-fleet-config.js';
import { postgresBinaries } from './bench-fleet-postgres.js';
import { formatFleet, formatGoals, formatHeadline } from './bench-fleet-report.js';
import { runFleet, type FleetResult } from './bench-fleet-run.js';
import { killDescendants, Teardown } from './bench-fleet-teardown.js';

let config: FleetConfig;
try {
  config = readConfig();
} catch (err) {
  console.error(`bench:fleet: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(err instanceof UsageError ? 2 : 1);
}

let current: Teardown | undefined;
let stopping = false;
let stopped: Promise<void> | undefined;
/** Once, whoever asks first (the end of the run or a signal); the other waits for the same. */
const stopAll = () =>
  (stopped ??= (async () => {
    await current?.run();
    killDescendants();
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\nbench:fleet: ${signal}: stopping everything it started…`);
    void stopAll().finally(() => process.exit(130));
  });
}

const t0 = performance.now();
const say = (size: number) => (msg: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] [${size} nodes] ${msg}`);
const results: FleetResult[] = [];
let failed = false;
try {
  let postgres = config.postgres;
  if (postgres === 'private' && !postgresBinaries()) {
    console.log(`bench:fleet: no initdb (pg_config --bindir) for a private PostgreSQL server: using ${SHARED_POSTGRES}`);
    postgres = SHARED_POSTGRES;
  }
  console.log(
    `bench:fleet: sizes ${config.sizes.join(', ')} · interval ${config.intervalMs / 1000} s · ${config.tasksPerNode} tasks/node · ` +
      `push ${config.push ? 'on (one push server, a path per node)' : 'off (poll only)'} · window ${config.windowS} s · ` +
      `PostgreSQL ${postgres === 'private' ? 'a private server per size' : postgres} · ` +
      `${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  for (const size of config.sizes) {
    if (stopping) break;
    current = new Teardown();
    try {
      const result = await runFleet(size, { ...config, postgres }, current, say(size));
      results.push(result);
      console.log(`\n${formatFleet(result, config)}\n`);
    } catch (err) {
      if (stopping) break;
      failed = true;
      console.error(`bench:fleet: the ${size}-node run failed: ${(err as Error).stack ?? err}`);
    } finally {
      await current.run();
      if (!stopping) current = undefined;
    }
  }
  if (results.length) {
    const headline = formatHeadline(results);
    if (headline) console.log(`${headline}\n`);
    console.log(formatGoals(results, config));
  }
} finally {
  // After a signal this waits for the handler's stop, which exits with 130.
  await stopAll();
}
process.exit(failed && !results.length ? 1 : 0);
