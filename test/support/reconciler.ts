/** Builders of reconciler input for the scheduler's unit and property tests (edge/scheduler/reconciler). */
import { CapacityView, type NodeCapacity, type TaskUse } from '../../edge/scheduler/reconciler/capacity.js';
import { reconcileProject } from '../../edge/scheduler/reconciler/reconcile-project.js';
import type {
  Decisions,
  DeploymentSnap,
  NodeStatus,
  ProjectSnapshot,
  ProxyAck,
  TaskSnap,
} from '../../edge/scheduler/reconciler/types.js';

export const NOW = 1_700_000_000_000;

export function node(id: string, over: Partial<NodeCapacity> = {}): NodeCapacity {
  return { id, cpuMillis: 1000, memoryMb: 1024, portMin: 20000, portMax: 20009, ...over };
}

/** A live deployment of one replica (100m CPU, 128 MB) made a minute ago, due a minute from now. */
export function deployment(id: string, over: Partial<DeploymentSnap> = {}): DeploymentSnap {
  return {
    id,
    status: 'live',
    replicas: 1,
    cpuMillis: 100,
    memoryMb: 128,
    createdAt: NOW - 60_000,
    deadlineAt: NOW + 60_000,
    statusReason: null,
    retirement: null,
    ...over,
  };
}

/** A healthy task made ten minutes ago. */
export function task(id: string, deploymentId: string, nodeId: string, port: number, over: Partial<TaskSnap> = {}): TaskSnap {
  return {
    id,
    deploymentId,
    nodeId,
    port,
    observed: 'healthy',
    restarts: 0,
    exitCode: null,
    message: null,
    everHealthy: over.observed === undefined || over.observed === 'healthy',
    lastExitCode: null,
    lastExitMessage: null,
    createdAt: NOW - 600_000,
    retirement: null,
    ...over,
  };
}

export interface Scenario {
  deployments: DeploymentSnap[];
  tasks?: TaskSnap[];
  live?: string | null;
  /** Nodes that take new tasks; default one node n1. */
  nodes?: NodeCapacity[];
  /** Status of nodes the tasks are on when not `ready` (a draining or down node is not in `nodes`' view). */
  status?: Record<string, NodeStatus>;
  /** Tasks of other projects, holding capacity. */
  others?: TaskUse[];
  proxies?: ProxyAck[];
  now?: number;
}

export function projectOf(s: Scenario, id = 'p1'): ProjectSnapshot {
  const tasks = s.tasks ?? [];
  const nodes = new Map<string, NodeStatus>();
  for (const t of tasks) nodes.set(t.nodeId, s.status?.[t.nodeId] ?? 'ready');
  const live = s.live !== undefined ? s.live : (s.deployments.find((d) => d.status === 'live')?.id ?? null);
  return { id, liveDeploymentId: live, deployments: s.deployments, tasks, nodes };
}

/** The capacity view of the scenario's schedulable nodes, holding every running task on them. */
export function viewOf(s: Scenario): CapacityView {
  const schedulable = (s.nodes ?? [node('n1')]).filter((n) => !s.status?.[n.id] || s.status[n.id] === 'ready');
  const byId = new Map(s.deployments.map((d) => [d.id, d]));
  const uses: TaskUse[] = (s.tasks ?? []).map((t) => ({
    nodeId: t.nodeId,
    port: t.port,
    cpuMillis: byId.get(t.deploymentId)!.cpuMillis,
    memoryMb: byId.get(t.deploymentId)!.memoryMb,
  }));
  return new CapacityView(schedulable, [...uses, ...(s.others ?? [])]);
}

export function evaluate(s: Scenario, capacity = viewOf(s)): Decisions {
  return reconcileProject({ project: projectOf(s), capacity, proxies: s.proxies ?? [], now: s.now ?? NOW });
}

/** A proxy seen a moment ago serving `epoch`. */
export function proxy(id: string, epoch: number, lastSeenAt = NOW - 500): ProxyAck {
  return { id, epoch, lastSeenAt };
}
