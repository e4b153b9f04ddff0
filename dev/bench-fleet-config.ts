/** Settings of `npm run bench:fleet`, from flags (`npm run bench:fleet -- --sizes 10,100`) or FLEET_* env vars. */
import { parseArgs } from 'node:util';

export interface FleetConfig {
  /** Fleet sizes, run one after the other, each on a fresh database and Worker. */
  sizes: number[];
  intervalMs: number;
  tasksPerNode: number;
  /** Length of the steady measurement. */
  windowS: number;
  /** Simulated nodes receive pushes (one HTTP server, a path per node); off: poll only. */
  push: boolean;
  /** Replicas of the deployment timed from POST to live after the steady window. */
  bigReplicas: number;
  /** Task crashes per second across the fleet during the steady window (each restarts on the next heartbeat). */
  crashesPerS: number;
  /** Base URL of the PostgreSQL server (a throwaway database per size), or 'private' for a throwaway server (one per size). */
  postgres: string;
  /** Bound on each wait (registration, setup live, 200-replica live, node death): reported as "did not … within". */
  setupTimeoutS: number;
  waitTimeoutS: number;
  /** Print the Worker's output. */
  verbose: boolean;
}

export const SHARED_POSTGRES = 'postgres://postgres@127.0.0.1:5432';

const OPTIONS = {
  sizes: { type: 'string', env: 'FLEET_SIZES', default: '10,1000' },
  'interval-s': { type: 'string', env: 'FLEET_INTERVAL_S', default: '5' },
  'tasks-per-node': { type: 'string', env: 'FLEET_TASKS_PER_NODE', default: '3' },
  'window-s': { type: 'string', env: 'FLEET_WINDOW_S', default: '30' },
  push: { type: 'string', env: 'FLEET_PUSH', default: 'on' },
  'big-replicas': { type: 'string', env: 'FLEET_BIG_REPLICAS', default: '200' },
  'crashes-per-s': { type: 'string', env: 'FLEET_CRASHES_PER_S', default: '0' },
  postgres: { type: 'string', env: 'FLEET_POSTGRES', default: 'private' },
  'setup-timeout-s': { type: 'string', env: 'FLEET_SETUP_TIMEOUT_S', default: '300' },
  'wait-timeout-s': { type: 'string', env: 'FLEET_WAIT_TIMEOUT_S', default: '120' },
  verbose: { type: 'string', env: 'FLEET_VERBOSE', default: '0' },
} as const;

export const USAGE = `npm run bench:fleet [-- --option value …]   (each option also as an env var)
${Object.entries(OPTIONS)
  .map(([flag, o]) => `  --${flag.padEnd(16)} ${o.env.padEnd(22)} default ${o.default}`)
  .join('\n')}
  --postgres private (the default) starts a throwaway PostgreSQL server per fleet size (PostgreSQL's
  defaults: max_connections 100), so a collapsing control plane cannot use up the connections of a
  shared server and the whole server's CPU is measured; without initdb it falls back to
  ${SHARED_POSTGRES}, where only the Worker's backends are measured.`;

export function readConfig(argv = process.argv.slice(2), env = process.env): FleetConfig {
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }])), help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const flags = values as Record<string, string | boolean | undefined>;
  const get = (key: keyof typeof OPTIONS): string => (flags[key] as string | undefined) ?? env[OPTIONS[key].env] ?? OPTIONS[key].default;
  const num = (key: keyof typeof OPTIONS, min: number): number => {
    const n = Number(get(key));
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${key} (${OPTIONS[key].env}) must be a number >= ${min}, got ${get(key)}`);
    return n;
  };
  const flag = (key: keyof typeof OPTIONS) => !['0', 'off', 'false', 'no'].includes(get(key).toLowerCase());
  const sizes = get('sizes').split(',').map((s) => Number(s.trim()));
  if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 2)) {
    throw new UsageError(`--sizes (FLEET_SIZES) must be comma-separated whole numbers >= 2 (one node dies in each run), got ${get('sizes')}`);
  }
  return {
    sizes,
    intervalMs: Math.round(num('interval-s', 0.1) * 1000),
    tasksPerNode: num('tasks-per-node', 1),
    windowS: num('window-s', 1),
    push: flag('push'),
    bigReplicas: Math.round(num('big-replicas', 1)),
    crashesPerS: num('crashes-per-s', 0),
    postgres: get('postgres').replace(/\/+$/, ''),
    setupTimeoutS: num('setup-timeout-s', 1),
    waitTimeoutS: num('wait-timeout-s', 1),
    verbose: flag('verbose'),
  };
}

export class UsageError extends Error {
  override name = 'UsageError';
}
