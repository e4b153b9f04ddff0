/**
 * The reconciler's input and output. Input: one project's state as read from the database, the
 * proxies' acknowledgements, `now` and config; output: decisions that SQL applies (apply-decisions.ts).
 * Times are milliseconds since the epoch, all from the one clock passed in.
 */

export type NodeStatus = 'ready' | 'draining' | 'down';
export type DeploymentStatus = 'pending' | 'deploying' | 'live' | 'standby' | 'superseded' | 'failed';

/** Out of routing since `epoch`, stopped once every live proxy serves it (or after the ack timeout). */
export interface Retirement {
  epoch: number;
  requestedAt: number;
}

export interface DeploymentSnap {
  id: string;
  status: DeploymentStatus;
  replicas: number;
  cpuMillis: number;
  memoryMb: number;
  createdAt: number;
  deadlineAt: number;
  statusReason: string | null;
  retirement: Retirement | null;
}

export interface TaskSnap {
  id: string;
  deploymentId: string;
  nodeId: string;
  port: number;
  /** As the agent last reported it: pending, starting, healthy, unhealthy, exited, failed. */
  observed: string;
  restarts: number;
  exitCode: number | null;
  message: string | null;
  /** Whether the task was ever reported healthy (tasks.ever_healthy, migration 008). */
  everHealthy: boolean;
  /** The last exit the agent reported, kept after a restart clears `exitCode` (migration 008). */
  lastExitCode: number | null;
  lastExitMessage: string | null;
  /** Why the agent reports it failed, when it says (tasks.observed_code, migration 019): e.g. `port_in_use`. */
  code?: string | null;
  createdAt: number;
  retirement: Retirement | null;
}

export interface ProjectSnapshot {
  id: string;
  liveDeploymentId: string | null;
  /** Deployments that are active (pending, deploying, live, standby), retiring, or have running tasks. */
  deployments: DeploymentSnap[];
  /** The project's tasks whose desired state is running (retiring ones included). */
  tasks: TaskSnap[];
  /** Status of every node the tasks are on (and of no other node). */
  nodes: ReadonlyMap<string, NodeStatus>;
}

/** A proxy's last report: the route epoch it serves. */
export interface ProxyAck {
  id: string;
  epoch: number;
  lastSeenAt: number;
}

export interface ReconcilerConfig {
  /** Longest wait for the proxies' acknowledgement before a retired task stops anyway. */
  ackTimeoutMs: number;
  /** A proxy silent for this long no longer counts (it reports at least every 2 s). */
  proxyLivenessMs: number;
  /** How soon to look again while acknowledgements are outstanding (they arrive as table writes, not events). */
  ackPollMs: number;
  /** Restarts without ever being healthy after which a deploying deployment fails at once. */
  crashLoopRestarts: number;
}

export const DEFAULT_CONFIG: ReconcilerConfig = {
  ackTimeoutMs: 30_000,
  proxyLivenessMs: 10_000,
  ackPollMs: 1_000,
  crashLoopRestarts: 3,
};

export interface Placement {
  deploymentId: string;
  nodeId: string;
  port: number;
}

export interface TaskRef {
  id: string;
  nodeId: string;
}

/** A change of a deployment's status and/or reason; an absent field stays as it is. */
export interface DeploymentUpdate {
  id: string;
  status?: DeploymentStatus;
  reason?: string | null;
}

export interface ProjectEvent {
  kind: 'deployment.live' | 'deployment.failed' | 'deployment.retire_timeout';
  data: Record<string, unknown>;
}

export interface Decisions {
  projectId: string;
  place: Placement[];
  /** Tasks leaving routing at this pass's epoch; they stop once the proxies acknowledge it. */
  retireTasks: TaskRef[];
  /** Tasks to stop now (acknowledged retirements, failed deployments). */
  stopTasks: TaskRef[];
  /** Tasks on down nodes: stopped and marked lost (their replacements are in `place`). */
  lostTasks: TaskRef[];
  deployments: DeploymentUpdate[];
  /** The deployment that became the project's live one; its live epoch is this pass's epoch. */
  live: string | null;
  /** Deployments leaving routing at this pass's epoch; their tasks stop once the proxies acknowledge it. */
  retireDeployments: string[];
  /** Retiring deployments whose tasks stop now (in `stopTasks`); their retirement is cleared. */
  retired: string[];
  events: ProjectEvent[];
  /** For the operator's log. */
  warnings: string[];
  /** A route epoch bump is needed (something entered or left routing). */
  routingChanged: boolean;
  /** When this project must be evaluated again even if nothing else happens; null: only on events. */
  wakeAt: number | null;
}
