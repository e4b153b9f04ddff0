import { bumpRouteEpoch, type Tx } from '../db.js';
import { bumpGenerations, stopTasksWhere } from './task-stop.js';
import { retireAfterEpoch } from './retire.js';

/**
 * Moves deployments through their lifecycle; each function runs inside the scheduler lock and
 * returns the node ids whose desired state changed.
 *
 * Release policy: when a deployment goes live, the previous live one becomes `standby` and keeps
 * running (its preview URL still answers; it is the instant rollback target); the one that was
 * standby before becomes `superseded` and its tasks stop. So at most two releases run per project.
 * A superseded deployment leaves routing at once (epoch bump) but its tasks stop only after every
 * live proxy acknowledged that epoch (retire.ts), so no proxy sends a request to a stopping task.
 */
export async function promoteHealthy(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT d.id, d.project_id, d.created_at FROM deployments d
     WHERE d.status = 'deploying'
       AND (SELECT count(*) FROM tasks t WHERE t.deployment_id = d.id AND t.desired_state = 'running' AND t.observed_state = 'healthy'
                 AND t.retire_epoch IS NULL) >= d.replicas
     ORDER BY d.created_at`,
  );
  const touched: string[] = [];
  for (const d of rows) touched.push(...(await cutover(tx, d.id, d.project_id)));
  return touched;
}

async function cutover(tx: Tx, deploymentId: string, projectId: string): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT d.id, d.created_at > n.created_at AS live_is_newer FROM projects p
     JOIN deployments d ON d.id = p.live_deployment_id JOIN deployments n ON n.id = $2 WHERE p.id = $1`,
    [projectId, deploymentId],
  );
  const current = rows[0];
  if (current?.live_is_newer) {
    // A newer release went live first; this one is outdated before it ever served.
    await tx.query(`UPDATE deployments SET status = 'superseded', status_reason = 'a newer deployment went live first' WHERE id = $1`, [deploymentId]);
    await retireAfterEpoch(tx, [deploymentId], await bumpRouteEpoch(tx));
    return [];
  }
  const retired = await tx.query(
    `UPDATE deployments SET status = 'superseded' WHERE project_id = $1 AND status = 'standby' RETURNING id`,
    [projectId],
  );
  if (current) await tx.query(`UPDATE deployments SET status = 'standby' WHERE id = $1`, [current.id]);
  const epoch = await bumpRouteEpoch(tx);
  await tx.query(`UPDATE deployments SET status = 'live', status_reason = NULL, live_at = now(), live_epoch = $2 WHERE id = $1`, [deploymentId, epoch]);
  await tx.query('UPDATE projects SET live_deployment_id = $2 WHERE id = $1', [projectId, deploymentId]);
  await tx.query(`INSERT INTO events (project_id, kind, data) VALUES ($1, 'deployment.live', $2)`, [
    projectId,
    JSON.stringify({ deploymentId, previous: current?.id ?? null }),
  ]);
  await retireAfterEpoch(tx, retired.rows.map((r) => r.id as string), epoch);
  return [];
}

/** Deployments past their deadline fail; the live one stays live. */
export async function failOverdue(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT d.id, d.project_id, d.status_reason,
            coalesce(json_agg(json_build_object('id', t.id, 'state', t.observed_state, 'exitCode', t.exit_code,
                                                'restarts', t.restarts, 'message', t.message))
                     FILTER (WHERE t.id IS NOT NULL), '[]') AS tasks
     FROM deployments d LEFT JOIN tasks t ON t.deployment_id = d.id AND t.desired_state = 'running'
     WHERE d.status IN ('pending', 'deploying') AND d.deadline_at < now() GROUP BY d.id`,
  );
  const touched: string[] = [];
  for (const d of rows) {
    const reason = failureReason(d.status_reason, d.tasks);
    await tx.query(`UPDATE deployments SET status = 'failed', status_reason = $2 WHERE id = $1`, [d.id, reason]);
    await tx.query(`INSERT INTO events (project_id, kind, data) VALUES ($1, 'deployment.failed', $2)`, [
      d.project_id,
      JSON.stringify({ deploymentId: d.id, reason }),
    ]);
    touched.push(...(await stopTasksWhere(tx, 'deployment_id = $1', [d.id])));
  }
  return touched;
}

interface TaskSummary {
  id: string;
  state: string;
  exitCode: number | null;
  restarts: number;
  message: string | null;
}

function failureReason(pendingReason: string | null, tasks: TaskSummary[]): string {
  const unhealthy = tasks.filter((t) => t.state !== 'healthy');
  if (tasks.length === 0) return `not healthy before its deadline: no task was placed (${pendingReason ?? 'no capacity'})`;
  const detail = unhealthy
    .slice(0, 3)
    .map((t) => {
      const exit = t.exitCode === null ? '' : `, last exit code ${t.exitCode}`;
      return `task ${t.id} ${t.state}${exit}, ${t.restarts} restart(s)${t.message ? `: ${t.message}` : ''}`;
    })
    .join('; ');
  return `not healthy before its deadline: ${unhealthy.length} of ${tasks.length} task(s) not healthy (${detail})`;
}

/** Nodes silent for three heartbeat intervals are down; their tasks are lost and re-planned elsewhere. */
export async function markLostNodes(tx: Tx, heartbeatMs: number): Promise<void> {
  const { rows } = await tx.query(
    `UPDATE nodes SET status = 'down' WHERE status = 'ready' AND last_heartbeat_at < now() - make_interval(secs => $1) RETURNING id`,
    [(heartbeatMs * 3) / 1000],
  );
  if (!rows.length) return;
  const ids = rows.map((r) => r.id as string);
  await tx.query(
    `UPDATE tasks SET desired_state = 'stopped', observed_state = 'lost', updated_at = now()
     WHERE node_id = ANY($1) AND desired_state = 'running'`,
    [ids],
  );
  // If such a node comes back, its next heartbeat sees a new generation and stops the lost tasks.
  await bumpGenerations(tx, ids);
  await bumpRouteEpoch(tx);
}
