import { ACTIVE, type Evaluation } from './evaluation.js';
import { hashId, NodeWalk, noRoomReason } from './feasible.js';
import type { DeploymentSnap, TaskSnap } from './types.js';

const WAITING = 'waiting for capacity';

/**
 * Keeps every active deployment at `replicas` tasks. Counted: running tasks that are not retiring
 * (a retiring task holds its port and capacity but counts for no replica) and not on a draining
 * node (drain.ts retires those once their replacements are healthy). Short: place on the best of
 * the feasible nodes (feasible.ts); a pending deployment that got tasks is deploying. Over: retire
 * the surplus, unhealthy tasks first, then the newest.
 */
export function keepReplicas(ev: Evaluation): void {
  for (const d of ev.deployments) {
    if (!ACTIVE.has(ev.statusOf(d))) continue;
    const running = ev.running(d);
    const { has } = ev;
    const counted = has.retiringTasks || has.draining || has.down ? running.filter((t) => !t.retirement && ev.nodeStatus(t) === 'ready') : running;
    if (counted.length > d.replicas) {
      for (const t of surplus(counted, counted.length - d.replicas)) ev.retire(t);
      clearWaiting(ev, d);
    } else if (counted.length < d.replicas) {
      place(ev, d, running, d.replicas - counted.length);
    } else {
      clearWaiting(ev, d);
    }
  }
}

/** Unhealthy first (they serve nobody), then the newest (the oldest have proven themselves). */
function surplus(tasks: TaskSnap[], n: number): TaskSnap[] {
  return [...tasks]
    .sort((a, b) => {
      const health = Number(a.observed === 'healthy') - Number(b.observed === 'healthy');
      return health || b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);
    })
    .slice(0, n);
}

function place(ev: Evaluation, d: DeploymentSnap, running: TaskSnap[], missing: number): void {
  const spread = new Map<string, number>();
  for (const t of running) spread.set(t.nodeId, (spread.get(t.nodeId) ?? 0) + 1);
  // Seeded by the deployment and its task count: a later scale-up starts its walk elsewhere.
  const walk = new NodeWalk(ev.capacity, (hashId(d.id) ^ Math.imul(running.length, 0x9e3779b1)) >>> 0);
  let placed = 0;
  for (; placed < missing; placed++) {
    const i = walk.next(d, spread);
    if (i < 0) break;
    const nodeId = ev.capacity.ids[i]!;
    ev.out.place.push({ deploymentId: d.id, nodeId, port: ev.capacity.allocate(i, d.cpuMillis, d.memoryMb) });
    spread.set(nodeId, (spread.get(nodeId) ?? 0) + 1);
  }
  const short = missing - placed;
  const reason = short ? `${WAITING} for ${short} task(s): ${noRoomReason(ev.capacity, d)}` : null;
  if (placed && ev.statusOf(d) === 'pending') ev.update(d, { status: 'deploying', reason });
  else if (reason) ev.update(d, { reason });
  else clearWaiting(ev, d);
}

function clearWaiting(ev: Evaluation, d: DeploymentSnap): void {
  if (ev.reasonOf(d)?.startsWith(WAITING)) ev.update(d, { reason: null });
}
