/**
 * `npm run bench:planner`: the pure reconciler at fleet scale, on one core, no database.
 * - Placement: 2,000 projects each deploying 10 replicas (20,000 placements) onto 1,000 and 10,000
 *   nodes already holding 5 tasks each; placements per second of the whole evaluation (reconciler
 *   steps + capacity walk). Goal: 20,000/s at 1,000 nodes, 10,000/s at 10,000 nodes.
 *   Also 10,000 nodes of which 9 in 10 are full, so most nodes the walk meets are not feasible.
 * - Steady pass: 10,000 projects with 100,000 running tasks and nothing to do, every project
 *   evaluated. Goal: under 20 ms. Building the capacity view from those tasks (per-node sums, as
 *   the database returns them) is timed apart: later it lives in the Scheduler Durable Object's
 *   memory and is not rebuilt per pass.
 * Each figure is the median CPU time of ROUNDS runs after a warm-up.
 */
import { CapacityView, type NodeCapacity, type TaskUse } from '../edge/scheduler/reconciler/capacity.js';
import { reconcileProject } from '../edge/scheduler/reconciler/reconcile-project.js';
import type { DeploymentSnap, NodeStatus, ProjectSnapshot, TaskSnap } from '../edge/scheduler/reconciler/types.js';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const NOW = Date.UTC(2026, 0, 1);

/** A small deterministic generator, so every run measures the same cluster. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function nodes(n: number): NodeCapacity[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `n${i.toString(36).padStart(4, '0')}`,
    cpuMillis: 16_000,
    memoryMb: 65_536,
    portMin: 20000,
    portMax: 29999,
  }));
}

function deployment(id: string, status: DeploymentSnap['status'], replicas: number, rand: () => number): DeploymentSnap {
  return {
    id, status, replicas,
    cpuMillis: 100 + Math.floor(rand() * 4) * 100,
    memoryMb: 128 * (1 + Math.floor(rand() * 4)),
    createdAt: NOW - 60_000, deadlineAt: NOW + 60_000, statusReason: null, retirement: null,
  };
}

function healthyTask(id: string, d: DeploymentSnap, nodeId: string, port: number): TaskSnap {
  return {
    id, deploymentId: d.id, nodeId, port, observed: 'healthy', restarts: 0, exitCode: null, message: null,
    everHealthy: true, lastExitCode: null, lastExitMessage: null, createdAt: NOW - 600_000, retirement: null,
  };
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * Runs `fn` once to warm up, then ROUNDS times; the median CPU time of one run in ms. CPU time, not
 * wall time: on a shared machine the wall clock also counts other processes' turns. The script runs
 * with --single-threaded-gc, so the process's CPU time is this thread's.
 */
function measure(fn: () => void): number {
  fn();
  return median(
    Array.from({ length: ROUNDS }, () => {
      const before = process.cpuUsage();
      fn();
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    }),
  );
}

/** `fullShare` of the nodes have no CPU left: the walk must pass over them to find room. */
function placementBench(nodeCount: number, fullShare = 0): void {
  const cluster = nodes(nodeCount);
  const rand = lcg(nodeCount);
  const existing: TaskUse[] = cluster.flatMap((n, i) =>
    i % 10 < fullShare * 10
      ? [{ nodeId: n.id, port: 20000, cpuMillis: n.cpuMillis, memoryMb: 256 }]
      : Array.from({ length: 5 }, (_, k) => ({ nodeId: n.id, port: 20000 + k, cpuMillis: 100 + Math.floor(rand() * 8) * 100, memoryMb: 256 })),
  );
  const projects: ProjectSnapshot[] = Array.from({ length: 2000 }, (_, i) => ({
    id: `p${i}`,
    liveDeploymentId: null,
    deployments: [deployment(`d${i}`, 'pending', 10, rand)],
    tasks: [],
    nodes: new Map(),
  }));
  let placed = 0;
  const views = Array.from({ length: ROUNDS + 1 }, () => new CapacityView(cluster, existing));
  const ms = measure(() => {
    const capacity = views.pop()!;
    placed = 0;
    for (const project of projects) placed += reconcileProject({ project, capacity, proxies: [], now: NOW }).place.length;
  });
  const rate = placed / (ms / 1000);
  if (placed !== 20_000) throw new Error(`placed ${placed} of 20000`);
  const goal = nodeCount >= 10_000 ? 10_000 : 20_000;
  const full = fullShare ? `, ${fullShare * 100}% of them full` : '';
  console.log(`  ${nodeCount.toLocaleString('en')} nodes${full}: ${Math.round(rate).toLocaleString('en')} placements/s (goal ${goal.toLocaleString('en')}/s: ${rate >= goal ? 'met' : 'NOT met'})`);
}

function steadyBench(): void {
  const cluster = nodes(10_000);
  const rand = lcg(7);
  const uses: TaskUse[] = [];
  const nextPort = new Map<string, number>();
  const projects: ProjectSnapshot[] = Array.from({ length: 10_000 }, (_, i) => {
    const live = deployment(`d${i}a`, 'live', 8, rand);
    const standby = { ...deployment(`d${i}b`, 'standby', 2, rand), createdAt: NOW - 120_000 };
    const tasks: TaskSnap[] = [];
    const ready = new Map<string, NodeStatus>();
    for (const [d, n] of [[live, 8], [standby, 2]] as const) {
      for (let k = 0; k < n; k++) {
        const nodeId = cluster[Math.floor(rand() * cluster.length)]!.id;
        const port = nextPort.get(nodeId) ?? 20000;
        nextPort.set(nodeId, port + 1);
        tasks.push(healthyTask(`t${i}-${tasks.length}`, d, nodeId, port));
        uses.push({ nodeId, port, cpuMillis: d.cpuMillis, memoryMb: d.memoryMb });
        ready.set(nodeId, 'ready');
      }
    }
    return { id: `p${i}`, liveDeploymentId: live.id, deployments: [standby, live], tasks, nodes: ready };
  });
  const capacity = new CapacityView(cluster, uses);
  let decided = 0;
  const pass = measure(() => {
    decided = 0;
    for (const project of projects) {
      const d = reconcileProject({ project, capacity, proxies: [], now: NOW });
      decided += d.place.length + d.retireTasks.length + d.stopTasks.length + d.deployments.length;
    }
  });
  if (decided) throw new Error(`the steady pass decided ${decided} things`);
  // The database returns what each node holds summed (snapshot.ts): one entry per node, not per task.
  const perNode = new Map<string, { cpu: number; mem: number; ports: number[] }>();
  for (const u of uses) {
    const n = perNode.get(u.nodeId) ?? { cpu: 0, mem: 0, ports: [] };
    n.cpu += u.cpuMillis;
    n.mem += u.memoryMb;
    n.ports.push(u.port);
    perNode.set(u.nodeId, n);
  }
  const build = measure(() => {
    const view = new CapacityView(cluster);
    for (const [id, n] of perNode) view.holdMany(id, n.cpu, n.mem, n.ports);
  });
  console.log(`  steady pass, ${uses.length.toLocaleString('en')} tasks in ${projects.length.toLocaleString('en')} projects, nothing to do: ${pass.toFixed(1)} ms (goal < 20 ms: ${pass < 20 ? 'met' : 'NOT met'})`);
  console.log(`  capacity view built from 10,000 nodes and ${uses.length.toLocaleString('en')} tasks: ${build.toFixed(1)} ms`);
}

console.log(`bench:planner (pure reconciler, one core, CPU time, median of ${ROUNDS} runs)`);
placementBench(1_000);
placementBench(10_000);
placementBench(10_000, 0.9);
steadyBench();
