import type { CapacityView } from './capacity.js';
import type {
  Decisions,
  DeploymentSnap,
  DeploymentUpdate,
  DeploymentStatus,
  NodeStatus,
  ProjectSnapshot,
  ProxyAck,
  ReconcilerConfig,
  TaskSnap,
} from './types.js';

interface DeploymentState {
  id: string;
  status: DeploymentStatus;
  reason: string | null;
  tasks: TaskSnap[];
  update: DeploymentUpdate | undefined;
}

const byAge = (a: DeploymentSnap, b: DeploymentSnap) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Statuses whose deployments should have `replicas` running tasks. */
export const ACTIVE: ReadonlySet<DeploymentStatus> = new Set(['pending', 'deploying', 'live', 'standby']);

/**
 * One project's evaluation in progress: the snapshot as the steps' decisions change it, and the
 * decisions so far. Each step (one file each) reads the current state through it and decides
 * through it, so a later step sees what an earlier one decided (a failed deployment gets no
 * placements, a stopped task no longer counts).
 */
export class Evaluation {
  readonly out: Decisions;
  /** Deployments in priority order: oldest first (ties by id). */
  readonly deployments: readonly DeploymentSnap[];
  /** Proxies seen recently enough to count for acknowledgements. */
  readonly proxies: ProxyAck[];
  liveId: string | null;
  /** What the snapshot holds, so steps with nothing to look at return at once (most projects, most passes). */
  readonly has = { down: false, draining: false, retiringTasks: false };
  private readonly state = new Map<string, DeploymentState>();
  /** Tasks stopped, lost or retired by this evaluation (created on the first). */
  private ended: Set<string> | undefined;
  /** Deployments whose retirement this evaluation started or finished. */
  private retireHandled: Set<string> | undefined;

  constructor(
    readonly snapshot: ProjectSnapshot,
    readonly capacity: CapacityView,
    readonly now: number,
    readonly config: ReconcilerConfig,
    proxies: readonly ProxyAck[],
  ) {
    this.out = {
      projectId: snapshot.id,
      place: [],
      retireTasks: [],
      stopTasks: [],
      lostTasks: [],
      deployments: [],
      live: null,
      retireDeployments: [],
      retired: [],
      events: [],
      warnings: [],
      routingChanged: false,
      wakeAt: null,
    };
    const ds = snapshot.deployments;
    this.deployments = ds.every((d, i) => i === 0 || byAge(ds[i - 1]!, d) < 0) ? ds : [...ds].sort(byAge);
    for (const d of this.deployments) this.state.set(d.id, { id: d.id, status: d.status, reason: d.statusReason, tasks: [], update: undefined });
    // Tasks come grouped by deployment from the database: one map lookup per group, not per task.
    let group: DeploymentState | undefined;
    for (const t of snapshot.tasks) {
      if (t.deploymentId !== group?.id) group = this.state.get(t.deploymentId);
      group?.tasks.push(t);
      if (t.retirement) this.has.retiringTasks = true;
    }
    for (const status of snapshot.nodes.values()) {
      if (status === 'down') this.has.down = true;
      else if (status === 'draining') this.has.draining = true;
    }
    this.proxies = proxies.filter((p) => now - p.lastSeenAt < config.proxyLivenessMs);
    this.liveId = snapshot.liveDeploymentId;
  }

  deployment(id: string): DeploymentSnap | undefined {
    return this.deployments.find((d) => d.id === id);
  }

  statusOf(d: DeploymentSnap): DeploymentStatus {
    return this.state.get(d.id)!.status;
  }

  reasonOf(d: DeploymentSnap): string | null {
    return this.state.get(d.id)!.reason;
  }

  nodeStatus(t: TaskSnap): NodeStatus {
    return this.snapshot.nodes.get(t.nodeId)!;
  }

  /** The deployment's tasks still running after this evaluation's decisions so far (retiring ones included). */
  running(d: DeploymentSnap): TaskSnap[] {
    const all = this.state.get(d.id)!.tasks;
    const ended = this.ended;
    return ended ? all.filter((t) => !ended.has(t.id)) : all;
  }

  /**
   * Counts as serving users: running, healthy, not retiring, on a node that is not down. (A down
   * node's tasks stay in the proxies' routes until lost, but nothing here relies on them.)
   */
  routable(t: TaskSnap): boolean {
    return t.observed === 'healthy' && !t.retirement && !this.ended?.has(t.id) && this.nodeStatus(t) !== 'down';
  }

  /** Changes a deployment's status and/or reason (an absent field stays). */
  update(d: DeploymentSnap, change: { status?: DeploymentStatus; reason?: string | null }): void {
    const state = this.state.get(d.id)!;
    if (change.status !== undefined && change.status !== state.status) {
      state.status = change.status;
      (state.update ??= this.newUpdate(d)).status = change.status;
    }
    if (change.reason !== undefined && change.reason !== state.reason) {
      state.reason = change.reason;
      (state.update ??= this.newUpdate(d)).reason = change.reason;
    }
  }

  private newUpdate(d: DeploymentSnap): DeploymentUpdate {
    const u = { id: d.id };
    this.out.deployments.push(u);
    return u;
  }

  /** Stops a task now; its capacity and port are free for placements from here on. */
  stop(t: TaskSnap): void {
    if (this.ended?.has(t.id)) return;
    if (this.routable(t)) this.out.routingChanged = true;
    (this.ended ??= new Set()).add(t.id);
    this.out.stopTasks.push({ id: t.id, nodeId: t.nodeId });
    this.release(t);
  }

  /** A task on a down node: stopped and marked lost. It was in routing if it was healthy (lost.ts). */
  lose(t: TaskSnap): void {
    if (this.ended?.has(t.id)) return;
    if (t.observed === 'healthy' && !t.retirement) this.out.routingChanged = true;
    (this.ended ??= new Set()).add(t.id);
    this.out.lostTasks.push({ id: t.id, nodeId: t.nodeId });
    this.release(t);
  }

  /** Out of routing now, stopped once the proxies acknowledge; keeps its capacity and port until then. */
  retire(t: TaskSnap): void {
    if (this.ended?.has(t.id) || t.retirement) return;
    (this.ended ??= new Set()).add(t.id);
    this.out.retireTasks.push({ id: t.id, nodeId: t.nodeId });
    this.out.routingChanged = true;
    this.wake(this.now + this.config.ackPollMs);
  }

  /** The whole deployment leaves routing now; its tasks stop once the proxies acknowledge. */
  retireDeployment(d: DeploymentSnap): void {
    if (d.retirement || this.retireHandled?.has(d.id)) return;
    (this.retireHandled ??= new Set()).add(d.id);
    this.out.retireDeployments.push(d.id);
    this.out.routingChanged = true;
    this.wake(this.now + this.config.ackPollMs);
  }

  /** A retiring deployment whose tasks stop now. */
  finishRetirement(d: DeploymentSnap): void {
    (this.retireHandled ??= new Set()).add(d.id);
    this.out.retired.push(d.id);
    for (const t of this.running(d)) this.stop(t);
  }

  /** Asks to be evaluated again at `at` (ignored unless it is in the future). */
  wake(at: number): void {
    if (at <= this.now) return;
    if (this.out.wakeAt === null || at < this.out.wakeAt) this.out.wakeAt = at;
  }

  /** The decisions, in an order that does not depend on the snapshot's row order. */
  finish(): Decisions {
    this.out.retireTasks.sort(byId);
    this.out.stopTasks.sort(byId);
    this.out.lostTasks.sort(byId);
    return this.out;
  }

  private release(t: TaskSnap): void {
    const d = this.deployment(t.deploymentId);
    if (d) this.capacity.release({ nodeId: t.nodeId, port: t.port, cpuMillis: d.cpuMillis, memoryMb: d.memoryMb });
  }
}
