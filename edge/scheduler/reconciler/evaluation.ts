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
  readonly deployments: DeploymentSnap[];
  /** Proxies seen recently enough to count for acknowledgements. */
  readonly proxies: ProxyAck[];
  liveId: string | null;
  private readonly byId = new Map<string, DeploymentSnap>();
  private readonly tasks = new Map<string, TaskSnap[]>();
  private readonly status = new Map<string, DeploymentStatus>();
  private readonly reason = new Map<string, string | null>();
  /** Tasks stopped, lost or retired by this evaluation. */
  private readonly ended = new Set<string>();
  /** Deployments whose retirement this evaluation started or finished. */
  private readonly retireHandled = new Set<string>();
  private readonly updates = new Map<string, DeploymentUpdate>();

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
    this.deployments = [...snapshot.deployments].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    for (const d of this.deployments) {
      this.byId.set(d.id, d);
      this.status.set(d.id, d.status);
      this.reason.set(d.id, d.statusReason);
    }
    for (const t of snapshot.tasks) {
      const list = this.tasks.get(t.deploymentId);
      if (list) list.push(t);
      else this.tasks.set(t.deploymentId, [t]);
    }
    this.proxies = proxies.filter((p) => now - p.lastSeenAt < config.proxyLivenessMs);
    this.liveId = snapshot.liveDeploymentId;
  }

  deployment(id: string): DeploymentSnap | undefined {
    return this.byId.get(id);
  }

  statusOf(d: DeploymentSnap): DeploymentStatus {
    return this.status.get(d.id)!;
  }

  reasonOf(d: DeploymentSnap): string | null {
    return this.reason.get(d.id) ?? null;
  }

  nodeStatus(t: TaskSnap): NodeStatus {
    return this.snapshot.nodes.get(t.nodeId) ?? 'down';
  }

  /** The deployment's tasks still running after this evaluation's decisions so far (retiring ones included). */
  running(d: DeploymentSnap): TaskSnap[] {
    const all = this.tasks.get(d.id) ?? [];
    return this.ended.size ? all.filter((t) => !this.ended.has(t.id)) : all;
  }

  /** Serving users: running, healthy, not retiring, on a node that is not down. */
  routable(t: TaskSnap): boolean {
    return t.observed === 'healthy' && !t.retirement && !this.ended.has(t.id) && this.nodeStatus(t) !== 'down';
  }

  /** Changes a deployment's status and/or reason (an absent field stays). */
  update(d: DeploymentSnap, change: { status?: DeploymentStatus; reason?: string | null }): void {
    const u: DeploymentUpdate = this.updates.get(d.id) ?? { id: d.id };
    if (change.status !== undefined && change.status !== this.statusOf(d)) {
      u.status = change.status;
      this.status.set(d.id, change.status);
    }
    if (change.reason !== undefined && change.reason !== this.reasonOf(d)) {
      u.reason = change.reason;
      this.reason.set(d.id, change.reason);
    }
    if (u.status !== undefined || u.reason !== undefined) this.updates.set(d.id, u);
  }

  /** Stops a task now; its capacity and port are free for placements from here on. */
  stop(t: TaskSnap): void {
    if (this.ended.has(t.id)) return;
    if (this.routable(t)) this.out.routingChanged = true;
    this.ended.add(t.id);
    this.out.stopTasks.push({ id: t.id, nodeId: t.nodeId });
    this.release(t);
  }

  /** A task on a down node: stopped and marked lost. */
  lose(t: TaskSnap): void {
    if (this.ended.has(t.id)) return;
    this.ended.add(t.id);
    this.out.lostTasks.push({ id: t.id, nodeId: t.nodeId });
    this.release(t);
  }

  /** Out of routing now, stopped once the proxies acknowledge; keeps its capacity and port until then. */
  retire(t: TaskSnap): void {
    if (this.ended.has(t.id) || t.retirement) return;
    this.ended.add(t.id);
    this.out.retireTasks.push(t.id);
    this.out.routingChanged = true;
    this.wake(this.now + this.config.ackPollMs);
  }

  /** The whole deployment leaves routing now; its tasks stop once the proxies acknowledge. */
  retireDeployment(d: DeploymentSnap): void {
    if (d.retirement || this.retireHandled.has(d.id)) return;
    this.retireHandled.add(d.id);
    this.out.retireDeployments.push(d.id);
    this.out.routingChanged = true;
    this.wake(this.now + this.config.ackPollMs);
  }

  /** A retiring deployment whose tasks stop now. */
  finishRetirement(d: DeploymentSnap): void {
    this.retireHandled.add(d.id);
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
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    this.out.deployments = [...this.updates.values()];
    this.out.retireTasks.sort();
    this.out.stopTasks.sort(byId);
    this.out.lostTasks.sort(byId);
    return this.out;
  }

  private release(t: TaskSnap): void {
    const d = this.byId.get(t.deploymentId);
    if (d) this.capacity.release({ nodeId: t.nodeId, port: t.port, cpuMillis: d.cpuMillis, memoryMb: d.memoryMb });
  }
}
