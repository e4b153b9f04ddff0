import type { Tx } from '../db.js';
import { CapacityView } from './reconciler/capacity.js';
import type { DeploymentSnap, NodeStatus, ProjectSnapshot, ProxyAck, TaskSnap } from './reconciler/types.js';

/**
 * Reads the reconciler's input; call inside the scheduler lock so the decisions apply to what was
 * read. Rows carry times as they are stored; the reconciler compares them with the pass's clock.
 */

/**
 * The projects with work pending: a rollout (pending or deploying), a retirement waiting for the
 * proxies, tasks on a down or draining node, or a live/standby deployment whose running tasks do
 * not match its replica count (scaled, or lost tasks not yet replaced). A steady project is not read.
 */
export async function projectsToEvaluate(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT project_id FROM deployments WHERE status IN ('pending', 'deploying') OR retire_epoch IS NOT NULL
     UNION
     SELECT d.project_id FROM tasks t JOIN deployments d ON d.id = t.deployment_id JOIN nodes n ON n.id = t.node_id
     WHERE t.desired_state = 'running' AND (t.retire_epoch IS NOT NULL OR n.status = 'down' OR n.draining_since IS NOT NULL)
     UNION
     SELECT d.project_id FROM deployments d WHERE d.status IN ('live', 'standby')
       AND d.replicas <> (SELECT count(*) FROM tasks t WHERE t.deployment_id = d.id AND t.desired_state = 'running' AND t.retire_epoch IS NULL)
     ORDER BY 1`,
  );
  return rows.map((r) => r.project_id as string);
}

/**
 * Free capacity of the nodes that take new tasks (ready and not draining), in one statement: read
 * in two, a node declared lost between them was in the view with none of its tasks' ports, and a
 * placement on one of those ports hit tasks_node_port. A port stays held by every task on the node
 * that is not finally stopped, whatever its desired state or its node's past status: a task stopped
 * or lost while its node was away may still run there when the node returns, until its agent
 * reports it gone. CPU and memory count the tasks meant to run, as the planner releases them.
 */
export async function loadCapacity(tx: Tx): Promise<CapacityView> {
  const { rows } = await tx.query(
    `SELECT n.id, n.cpu_millis, n.memory_mb, n.port_min, n.port_max, n.foreign_ports,
            coalesce(sum((d.resources->>'cpuMillis')::int) FILTER (WHERE t.desired_state = 'running'), 0) AS cpu,
            coalesce(sum((d.resources->>'memoryMb')::int) FILTER (WHERE t.desired_state = 'running'), 0) AS mem,
            coalesce(array_agg(t.port) FILTER (WHERE t.id IS NOT NULL), '{}') AS ports
     FROM nodes n
     LEFT JOIN tasks t ON t.node_id = n.id AND (t.desired_state = 'running' OR t.observed_state NOT IN ('stopped', 'lost'))
     LEFT JOIN deployments d ON d.id = t.deployment_id
     WHERE n.status = 'ready' AND n.draining_since IS NULL GROUP BY n.id ORDER BY n.id`,
  );
  const view = new CapacityView(
    rows.map((n) => ({ id: n.id, cpuMillis: n.cpu_millis, memoryMb: n.memory_mb, portMin: n.port_min, portMax: n.port_max })),
  );
  for (const n of rows) {
    view.holdMany(n.id, Number(n.cpu), Number(n.mem), (n.ports as (number | string)[]).map(Number));
    // Held by processes that are not our tasks (the agent's report): assigned to no task.
    view.block(n.id, (n.foreign_ports as (number | string)[]).map(Number));
  }
  return view;
}

export async function loadProxies(tx: Tx): Promise<ProxyAck[]> {
  const { rows } = await tx.query('SELECT id, epoch, last_seen_at FROM proxies ORDER BY id');
  return rows.map((r) => ({ id: r.id, epoch: Number(r.epoch), lastSeenAt: ms(r.last_seen_at)! }));
}

/** The snapshots of these projects, in id order. */
export async function loadProjects(tx: Tx, projectIds: string[]): Promise<ProjectSnapshot[]> {
  const projects = await tx.query('SELECT id, live_deployment_id FROM projects WHERE id = ANY($1) ORDER BY id', [projectIds]);
  const deployments = await tx.query(
    `SELECT d.id, d.project_id, d.status, d.replicas, d.resources, d.created_at, d.deadline_at, d.status_reason,
            d.retire_epoch, d.retire_requested_at
     FROM deployments d WHERE d.project_id = ANY($1)
       AND (d.status IN ('pending', 'deploying', 'live', 'standby') OR d.retire_epoch IS NOT NULL
            OR EXISTS (SELECT 1 FROM tasks t WHERE t.deployment_id = d.id AND t.desired_state = 'running'))
     ORDER BY d.created_at, d.id`,
    [projectIds],
  );
  const tasks = await tx.query(
    `SELECT t.id, t.deployment_id, t.node_id, t.port, t.observed_state, t.restarts, t.exit_code, t.message, t.ever_healthy,
            t.last_exit_code, t.last_exit_message, t.observed_code, t.created_at, t.retire_epoch, t.retire_requested_at, d.project_id,
            CASE WHEN n.status = 'down' THEN 'down' WHEN n.draining_since IS NOT NULL THEN 'draining' ELSE 'ready' END AS node_status
     FROM tasks t JOIN deployments d ON d.id = t.deployment_id JOIN nodes n ON n.id = t.node_id
     WHERE d.project_id = ANY($1) AND t.desired_state = 'running' ORDER BY t.deployment_id, t.id`,
    [projectIds],
  );
  const byProject = new Map<string, ProjectSnapshot>();
  const snapshots = projects.rows.map((p): ProjectSnapshot => {
    const s = { id: p.id as string, liveDeploymentId: p.live_deployment_id as string | null, deployments: [], tasks: [], nodes: new Map() };
    byProject.set(s.id, s);
    return s;
  });
  for (const d of deployments.rows) byProject.get(d.project_id)?.deployments.push(deploymentOf(d));
  for (const t of tasks.rows) {
    const s = byProject.get(t.project_id);
    if (!s) continue;
    s.tasks.push(taskOf(t));
    (s.nodes as Map<string, NodeStatus>).set(t.node_id, t.node_status);
  }
  return snapshots;
}

/** A row as the driver returns it; typed from here on. */
type Row = Record<string, any>;

function deploymentOf(d: Row): DeploymentSnap {
  return {
    id: d.id,
    status: d.status,
    replicas: d.replicas,
    cpuMillis: d.resources.cpuMillis,
    memoryMb: d.resources.memoryMb,
    createdAt: ms(d.created_at)!,
    deadlineAt: ms(d.deadline_at)!,
    statusReason: d.status_reason,
    retirement: d.retire_epoch === null ? null : { epoch: Number(d.retire_epoch), requestedAt: ms(d.retire_requested_at) ?? 0 },
  };
}

function taskOf(t: Row): TaskSnap {
  return {
    id: t.id,
    deploymentId: t.deployment_id,
    nodeId: t.node_id,
    port: t.port,
    observed: t.observed_state,
    restarts: t.restarts,
    exitCode: t.exit_code,
    message: t.message,
    everHealthy: t.ever_healthy,
    lastExitCode: t.last_exit_code,
    lastExitMessage: t.last_exit_message,
    code: t.observed_code,
    createdAt: ms(t.created_at)!,
    retirement: t.retire_epoch === null ? null : { epoch: Number(t.retire_epoch), requestedAt: ms(t.retire_requested_at) ?? 0 },
  };
}

function ms(v: unknown): number | null {
  return v === null || v === undefined ? null : new Date(v as string).getTime();
}
