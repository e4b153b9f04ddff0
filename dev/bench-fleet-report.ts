/** The fleet bench's output: one table per fleet size, the large/small headline, and the acceptance goals met or not. */
import type { FleetConfig } from './bench-fleet-config.js';
import type { FleetResult } from './bench-fleet-run.js';

const ms = (v: number, digits = 1) => (Number.isFinite(v) ? `${v.toFixed(digits)} ms` : 'n/a');
const num = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const row = (label: string, value: string) => `  ${label.padEnd(22)} ${value}`;

export function formatFleet(r: FleetResult, config: FleetConfig): string {
  const s = r.steady;
  const crashes = config.crashesPerS > 0 ? ` · ${config.crashesPerS} task crashes/s` : '';
  return [
    `── ${r.size} nodes · ${config.intervalMs / 1000} s interval · ${config.tasksPerNode} tasks/node · push ${config.push ? 'on' : 'off'}${crashes} · ` +
      `${num(s.windowS, 0)} s window · load average ${num(s.loadAvg[0], 2)} → ${num(s.loadAvg[1], 2)} ──`,
    row('registration', `${r.registered}/${r.size} nodes in ${num(r.registerS)} s${r.registered < r.size ? ` (the others did not register within --setup-timeout-s ${config.setupTimeoutS})` : ''}`),
    row('setup', `${r.setup.deployments}/${r.setup.attempted} deployments created${r.setup.deployments < r.setup.attempted ? ' (the others failed: see the errors)' : ''}; ${r.setup.note}`),
    row('heartbeats/s', `${num(s.achievedPerS)} achieved of ${num(s.expectedPerS)} expected (${num((100 * s.achievedPerS) / s.expectedPerS, 0)}%)`),
    row('heartbeat latency', `p50 ${ms(s.p50Ms, 0)} · p99 ${ms(s.p99Ms, 0)} · max ${ms(s.maxMs, 0)}`),
    row('errors (steady)', s.errors.summary()),
    row('workerd CPU', `${ms(s.workerdMsPerHb, 2)}/heartbeat (${num(s.workerdCores, 2)} cores); wrangler's own Node ${ms(s.wranglerMsPerHb, 2)}/heartbeat`),
    row('PostgreSQL', `${num(s.pgRoundTripsPerHb)} round trips/heartbeat · ${num(s.pgConnectionsPerHb, 2)} connections opened/heartbeat`),
    row('PostgreSQL CPU', [
      Number.isFinite(s.pgServerCpuMsPerHb) ? `${ms(s.pgServerCpuMsPerHb, 2)}/heartbeat whole server · ` : '',
      `${ms(s.pgCpuMsPerHb, 2)}/heartbeat in the Worker's backends while connected${s.pgCpuUnread ? ` (${s.pgCpuUnread} ended unread)` : ''}`,
    ].join('')),
    row('PG connections', `peak ${s.pgPeakConnections} in the window, ${r.peakConnections} over the run${saturated(r) ? ` (the server's max_connections ${r.maxConnections} reached)` : ''}`),
    row('simulator CPU', `${ms(s.simCpuMsPerHb, 2)}/heartbeat (${num(s.simCores, 2)} cores)`),
    row(`${config.bigReplicas}-replica deploy`, r.big.note),
    row('node death', r.death.note),
    row('pushes received', `${r.pushes.applied}${r.pushes.refused ? ` (${r.pushes.refused} refused)` : ''}`),
    row('errors (whole run)', r.allErrors.summary()),
    ...[...r.allErrors.example].map(([kind, message]) => `      e.g. ${kind}: ${message.slice(0, 240)}`),
    row('Worker log', r.workerLog.total ? `${r.workerLog.total} lines, most frequent:` : 'nothing'),
    ...[...r.workerLog.byKind]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([kind, n]) => `      ${String(n).padStart(6)} × ${r.workerLog.example.get(kind)!.slice(0, 240)}`),
  ].join('\n');
}

/** The whole server's when measured, else the Worker's backends while connected. */
const pgCpu = (r: FleetResult) => (Number.isFinite(r.steady.pgServerCpuMsPerHb) ? r.steady.pgServerCpuMsPerHb : r.steady.pgCpuMsPerHb);

/** The bench's own connection is one of max_connections. */
const saturated = (r: FleetResult) => r.peakConnections + 1 >= r.maxConnections;

export function formatHeadline(results: FleetResult[]): string {
  if (results.length < 2) return '';
  const small = results[0]!;
  const large = results.at(-1)!;
  const line = (label: string, pick: (r: FleetResult) => number, digits: number) => {
    const a = pick(small);
    const b = pick(large);
    return `  ${label.padEnd(26)} ${num(a, digits).padStart(10)} ${num(b, digits).padStart(10)} ${`${num(b / a, 2)}x`.padStart(8)}`;
  };
  return [
    `Headline: per heartbeat, ${large.size} nodes against ${small.size} (ratio large/small; 1.00x = constant cost per heartbeat)`,
    `  ${''.padEnd(26)} ${`${small.size} nodes`.padStart(10)} ${`${large.size} nodes`.padStart(10)} ${'ratio'.padStart(8)}`,
    line('latency p50 (ms)', (r) => r.steady.p50Ms, 1),
    line('latency p99 (ms)', (r) => r.steady.p99Ms, 1),
    line('workerd CPU (ms)', (r) => r.steady.workerdMsPerHb, 2),
    line('PostgreSQL round trips', (r) => r.steady.pgRoundTripsPerHb, 1),
    line('PostgreSQL CPU (ms)', pgCpu, 2),
  ].join('\n');
}

/** Issue 10's acceptance, checked on the largest fleet of the run. */
export function formatGoals(results: FleetResult[], config: FleetConfig): string {
  const large = results.at(-1)!;
  const small = results.length > 1 ? results[0]! : undefined;
  const s = large.steady;
  const mark = (ok: boolean) => (ok ? 'met    ' : 'NOT met');
  const goals: [boolean, string][] = [
    [large.allErrors.total === 0, `0 errors (${large.allErrors.total})`],
    [s.p99Ms < 250, `heartbeat p99 under 250 ms (${ms(s.p99Ms, 0)})`],
    [s.workerdMsPerHb < 2, `workerd CPU per steady heartbeat under 2 ms (${ms(s.workerdMsPerHb, 2)})`],
    small
      ? [s.workerdMsPerHb <= 1.5 * small.steady.workerdMsPerHb, `workerd CPU per heartbeat at most 1.5x the ${small.size}-node figure (${num(s.workerdMsPerHb / small.steady.workerdMsPerHb, 2)}x)`]
      : [false, 'workerd CPU per heartbeat at most 1.5x the small fleet (only one size was run)'],
    [large.peakConnections < 100 && !saturated(large), `PostgreSQL connections stay under 100 (peak ${large.peakConnections}${saturated(large) ? `: the server's max_connections ${large.maxConnections} reached` : ''})`],
    [large.big.seconds !== null && large.big.seconds < 30, `a ${config.bigReplicas}-replica deployment live in under 30 s (${large.big.note})`],
    [large.death.seconds !== null && large.death.seconds < 15, `a killed node's tasks healthy elsewhere in under 15 s (${large.death.seconds === null ? 'not within the wait' : `${num(large.death.seconds)} s`})`],
  ];
  const standard = large.size === 1000 && config.intervalMs === 5000 && config.tasksPerNode === 3 && config.bigReplicas === 200;
  return [
    `Acceptance (issue 10), on the ${large.size}-node fleet${standard ? '' : ' (the goals are set for 1,000 nodes, 5 s interval, 3 tasks per node, 200 replicas: this run differs)'}:`,
    ...goals.map(([ok, text]) => `  ${mark(ok)}  ${text}`),
  ].join('\n');
}
