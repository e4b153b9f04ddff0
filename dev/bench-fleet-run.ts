/**
 * One fleet size, end to end: a fresh control plane, N simulated nodes registered and heartbeating,
 * tasksPerNode tasks each on average (live), a steady measurement window, then the time for a
 * 200-replica deployment to go live and for a dead node's tasks to be healthy elsewhere.
 */
import { loadavg } from 'node:os';
import type { FleetConfig } from './bench-fleet-config.js';
import { onCpuSeconds, selfCpu } from './bench-fleet-cpu.js';
import { Monitor } from './bench-fleet-monitor.js';
import { SimFleet } from './bench-fleet-sim.js';
import { startFleetStack, type FleetStack } from './bench-fleet-stack.js';
import { ErrorCounts, percentile } from './bench-fleet-stats.js';
import type { Teardown } from './bench-fleet-teardown.js';
import { Workload } from './bench-fleet-workload.js';

export interface SteadyFigures {
  windowS: number;
  expectedPerS: number;
  achievedPerS: number;
  /** Heartbeats the Worker answered (2xx or not): the denominator of "per heartbeat". */
  answered: number;
  errors: ErrorCounts;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  workerdMsPerHb: number;
  workerdCores: number;
  wranglerMsPerHb: number;
  pgRoundTripsPerHb: number;
  pgConnectionsPerHb: number;
  /** The Worker's backends while connected (from the bridge): a lower bound, without connection start and exit. */
  pgCpuMsPerHb: number;
  pgCpuUnread: number;
  /** The whole server (private server only): every backend from fork to exit, background workers. */
  pgServerCpuMsPerHb: number;
  pgPeakConnections: number;
  simCpuMsPerHb: number;
  simCores: number;
  loadAvg: [number, number];
}

/** A timed wait: seconds, or null with what it reached when it gave up. */
export interface Timed {
  seconds: number | null;
  note: string;
}

export interface FleetResult {
  size: number;
  registered: number;
  registerS: number;
  setup: Timed & { deployments: number; attempted: number };
  steady: SteadyFigures;
  big: Timed;
  death: Timed & { downS: number | null };
  peakConnections: number;
  maxConnections: number;
  workerLog: ErrorCounts;
  pushes: { applied: number; refused: number };
  allErrors: ErrorCounts;
}

export async function runFleet(size: number, config: FleetConfig, teardown: Teardown, say: (msg: string) => void): Promise<FleetResult> {
  say(`starting the control plane (PostgreSQL database, bridge, workerd)…`);
  const stack = await startFleetStack({ postgres: config.postgres, intervalMs: config.intervalMs, echo: config.verbose }, teardown);
  say(stack.apiUrl === stack.proxyUrl
    ? `requests go through wrangler dev's proxy (the Worker's own socket was not found): it may be what is measured`
    : `requests go to the Worker's own workerd socket (${stack.apiUrl}), not through wrangler dev's proxy`);
  const monitor = await Monitor.open(stack.db.options);
  teardown.add(() => monitor.close());
  const fleet = new SimFleet(stack.apiUrl, size, config.push);
  teardown.add(() => fleet.stop());
  const workload = new Workload(fleet.api, stack.adminToken, fleet.stats);

  let t0 = Date.now();
  const registered = await fleet.register(stack.joinToken, config.intervalMs, t0 + config.setupTimeoutS * 1000);
  const registerS = (Date.now() - t0) / 1000;
  say(`${registered}/${size} nodes registered in ${registerS.toFixed(1)} s; heartbeating every ${config.intervalMs / 1000} s (push ${config.push ? 'on' : 'off'})`);

  t0 = Date.now();
  const replicas = Math.max(1, Math.min(100, Math.round(config.tasksPerNode)));
  const projects = Math.max(1, Math.round((size * config.tasksPerNode) / replicas));
  const setupDeadline = t0 + config.setupTimeoutS * 1000;
  const ids = await workload.deployMany('app', projects, replicas, setupDeadline);
  say(`${ids.length}/${projects} deployments of ${replicas} replicas created in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for them to go live…`);
  const setup = { ...(await waitLive(monitor, ids, t0, setupDeadline, say)), deployments: ids.length, attempted: projects };
  say(`setup: ${setup.note}`);

  // Let the prompt heartbeats of the setup pass, then measure plain periodic heartbeats.
  await sleep(config.intervalMs);
  const steady = await measureSteady(stack, fleet, monitor, config, registered);
  say(`steady: ${steady.achievedPerS.toFixed(1)}/${steady.expectedPerS.toFixed(1)} heartbeats/s, p99 ${steady.p99Ms.toFixed(0)} ms, errors ${steady.errors.summary()}`);

  const big = await bigDeployment(workload, config, say);
  say(`${config.bigReplicas}-replica deployment: ${big.note}`);
  const death = await nodeDeath(fleet, monitor, config);
  say(`node death: ${death.note}`);
  const peakConnections = monitor.overallPeak;
  return {
    size, registered, registerS, setup, steady, big, death, peakConnections, maxConnections: monitor.maxConnections,
    workerLog: stack.workerLog, pushes: fleet.pushCounts, allErrors: fleet.stats.allErrors,
  };
}

async function waitLive(monitor: Monitor, ids: string[], t0: number, deadline: number, say: (msg: string) => void): Promise<Timed> {
  if (!ids.length) return { seconds: null, note: 'no deployment could be created (see the errors)' };
  let lastSaid = Date.now();
  for (;;) {
    const s = await monitor.deploymentStates(ids);
    const elapsed = (Date.now() - t0) / 1000;
    if (s.live + s.failed === ids.length) {
      return { seconds: s.failed ? null : elapsed, note: `${s.live}/${ids.length} live${s.failed ? `, ${s.failed} failed` : ''} after ${elapsed.toFixed(1)} s` };
    }
    if (Date.now() > deadline) return { seconds: null, note: `did not go live within ${elapsed.toFixed(0)} s: ${s.live}/${ids.length} live, ${s.failed} failed` };
    if (Date.now() - lastSaid > 15_000) {
      lastSaid = Date.now();
      say(`… ${s.live}/${ids.length} live after ${elapsed.toFixed(0)} s`);
    }
    await sleep(1000);
  }
}

async function measureSteady(stack: FleetStack, fleet: SimFleet, monitor: Monitor, config: FleetConfig, nodes: number): Promise<SteadyFigures> {
  const counters = stack.bridge.counters;
  const roundTrips = () => (counters.messages.S ?? 0) + (counters.messages.Q ?? 0);
  // The whole server but the bench's own monitoring connection.
  const serverCpu = () => (stack.serverCpu?.() ?? NaN) - (onCpuSeconds(monitor.backendPid) ?? 0);
  const before = {
    worker: stack.workerCpu.sample(),
    pg: stack.backendCpu.sample(),
    server: serverCpu(),
    unread: stack.backendCpu.unread,
    roundTrips: roundTrips(),
    connections: counters.connections,
    sim: selfCpu(),
    at: performance.now(),
    load: loadavg()[0]!,
  };
  monitor.takePeak();
  fleet.stats.startWindow();
  fleet.startCrashes(config.crashesPerS);
  await sleep(config.windowS * 1000);
  fleet.stopCrashes();
  const w = fleet.stats.endWindow();
  const worker = stack.workerCpu.sample();
  const seconds = (performance.now() - before.at) / 1000;
  const answered = w.ok + w.httpErrors;
  const perHb = (delta: number) => (answered ? delta / answered : NaN);
  const sorted = w.latenciesMs.sort((a, b) => a - b);
  return {
    windowS: seconds,
    expectedPerS: nodes / (config.intervalMs / 1000),
    achievedPerS: w.ok / seconds,
    answered,
    errors: w.errors,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? NaN,
    workerdMsPerHb: perHb((worker.workerd - before.worker.workerd) * 1000),
    workerdCores: (worker.workerd - before.worker.workerd) / seconds,
    wranglerMsPerHb: perHb((worker.wrangler - before.worker.wrangler) * 1000),
    pgRoundTripsPerHb: perHb(roundTrips() - before.roundTrips),
    pgConnectionsPerHb: perHb(counters.connections - before.connections),
    pgCpuMsPerHb: perHb((stack.backendCpu.sample() - before.pg) * 1000),
    pgCpuUnread: stack.backendCpu.unread - before.unread,
    pgServerCpuMsPerHb: perHb((serverCpu() - before.server) * 1000),
    pgPeakConnections: monitor.takePeak(),
    simCpuMsPerHb: perHb((selfCpu() - before.sim) * 1000),
    simCores: (selfCpu() - before.sim) / seconds,
    loadAvg: [before.load, loadavg()[0]!],
  };
}

/** From the POST to every part of it being live, as the API reports it. */
async function bigDeployment(workload: Workload, config: FleetConfig, say: (msg: string) => void): Promise<Timed> {
  const t0 = performance.now();
  const deadline = t0 + config.waitTimeoutS * 1000;
  let created;
  try {
    created = await workload.deployBig(config.bigReplicas);
  } catch (err) {
    return { seconds: null, note: `could not be created: ${(err as Error).message}` };
  }
  if (created.split) say(created.split);
  const split = created.split ? ` (${created.ids.length} deployments: the API caps replicas)` : '';
  const pending = new Set(created.ids);
  while (performance.now() < deadline) {
    for (const id of [...pending]) {
      const d = await workload.status(id);
      if (d?.status === 'live') pending.delete(id);
      if (d?.status === 'failed') return { seconds: null, note: `failed: ${d.statusReason}` };
    }
    const seconds = (performance.now() - t0) / 1000;
    if (!pending.size) return { seconds, note: `live in ${seconds.toFixed(1)} s${split}` };
    await sleep(250);
  }
  return { seconds: null, note: `did not go live within ${config.waitTimeoutS} s${split}` };
}

/** Silences the node with the most tasks; times until it is declared down and until its deployments are whole again elsewhere. */
async function nodeDeath(fleet: SimFleet, monitor: Monitor, config: FleetConfig): Promise<Timed & { downS: number | null }> {
  const victim = await monitor.busiestNode();
  const node = victim && fleet.node(victim.nodeId);
  if (!victim || !node) return { seconds: null, downS: null, note: 'no node with tasks of a live deployment to kill' };
  node.kill();
  const t0 = performance.now();
  const deadline = t0 + config.waitTimeoutS * 1000;
  let downS: number | null = null;
  const what = `${node.name} (${victim.tasks} tasks of ${victim.deployments.length} deployments)`;
  while (performance.now() < deadline) {
    const seconds = (performance.now() - t0) / 1000;
    if (downS === null && (await monitor.nodeStatus(victim.nodeId)) === 'down') downS = seconds;
    if ((await monitor.shortOfReplicas(victim.deployments, victim.nodeId)) === 0) {
      return { seconds, downS, note: `${what}: declared down after ${downS?.toFixed(1) ?? '?'} s, its tasks healthy elsewhere after ${seconds.toFixed(1)} s` };
    }
    await sleep(250);
  }
  const short = await monitor.shortOfReplicas(victim.deployments, victim.nodeId);
  return {
    seconds: null,
    downS,
    note: `${what}: ${downS === null ? 'not declared down' : `declared down after ${downS.toFixed(1)} s`}, ${short} deployment(s) still short of healthy replicas after ${config.waitTimeoutS} s`,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
