import { bumpRouteEpoch, type Tx } from '../db.js';
import { stopTasksWhere } from './task-stop.js';

/**
 * Deferred stop of deployments and single tasks that left routing (issue 4, point 7). A proxy still
 * serving an older epoch may still send requests to them, so their processes keep running until
 * every live proxy has acknowledged the epoch that removed them (node-proxy/epoch-report.ts writes
 * `proxies`), or until ACK_TIMEOUT_MS has passed, which is logged. Checked on every scheduler pass.
 */

/** A proxy that has not reported for this long is gone (it reports at least every 2 s). */
export const PROXY_LIVENESS_MS = 10_000;
/** Longest wait for acknowledgements before stopping anyway. */
export const ACK_TIMEOUT_MS = 30_000;

/** SQL: the live proxies (id, epoch) still serving an epoch below `epoch`, as a JSON array. */
export function laggingProxies(epoch: string): string {
  return `coalesce((SELECT json_agg(json_build_object('id', px.id, 'epoch', px.epoch) ORDER BY px.id) FROM proxies px
                    WHERE px.last_seen_at > now() - make_interval(secs => ${PROXY_LIVENESS_MS / 1000}) AND px.epoch < ${epoch}), '[]')`;
}

/** Marks deployments to be stopped once every live proxy serves `epoch`. */
export async function retireAfterEpoch(tx: Tx, deploymentIds: string[], epoch: number): Promise<void> {
  if (!deploymentIds.length) return;
  await tx.query(
    `UPDATE deployments SET retire_epoch = $2, retire_requested_at = now() WHERE id = ANY($1)`,
    [deploymentIds, epoch],
  );
}

/**
 * Takes single tasks out of routing now (an epoch bump; the route query skips retiring tasks) and
 * stops them once every live proxy serves that epoch. Used for scale-down, drain and planner surplus.
 */
export async function retireTasks(tx: Tx, taskIds: string[]): Promise<void> {
  if (!taskIds.length) return;
  const epoch = await bumpRouteEpoch(tx);
  await tx.query(
    `UPDATE tasks SET retire_epoch = $2, retire_requested_at = now()
     WHERE id = ANY($1) AND desired_state = 'running' AND retire_epoch IS NULL`,
    [taskIds, epoch],
  );
}

/** Stops retiring deployments and tasks that every live proxy has routed away from (or timed out). */
export async function stopAcknowledged(tx: Tx): Promise<string[]> {
  return [...(await stopAcknowledgedDeployments(tx)), ...(await stopAcknowledgedTasks(tx))];
}

/** Retiring tasks grouped by epoch: the tasks whose epoch every live proxy serves (or timed out) stop. */
async function stopAcknowledgedTasks(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT t.retire_epoch, array_agg(t.id) AS ids, bool_and(t.retire_requested_at < now() - make_interval(secs => $1)) AS timed_out,
            ${laggingProxies('t.retire_epoch')} AS lagging
     FROM tasks t WHERE t.retire_epoch IS NOT NULL AND t.desired_state = 'running' GROUP BY t.retire_epoch`,
    [ACK_TIMEOUT_MS / 1000],
  );
  const ready = rows.filter((r) => r.lagging.length === 0 || r.timed_out);
  for (const r of ready.filter((r) => r.lagging.length > 0)) {
    console.warn(`scheduler: stopping tasks ${r.ids.join(', ')} without every proxy's acknowledgement of epoch ${r.retire_epoch} after ${ACK_TIMEOUT_MS} ms; lagging: ${lagSummary(r.lagging)}`);
  }
  const ids = ready.flatMap((r) => r.ids as string[]);
  if (!ids.length) return [];
  return stopTasksWhere(tx, 'id = ANY($1)', [ids]);
}

function lagSummary(lagging: { id: string; epoch: string }[]): string {
  return lagging.map((p) => `${p.id} at epoch ${p.epoch}`).join(', ');
}

async function stopAcknowledgedDeployments(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT d.id, d.project_id, d.retire_epoch,
            d.retire_requested_at < now() - make_interval(secs => $1) AS timed_out,
            ${laggingProxies('d.retire_epoch')} AS lagging
     FROM deployments d WHERE d.retire_epoch IS NOT NULL`,
    [ACK_TIMEOUT_MS / 1000],
  );
  const ready = rows.filter((r) => r.lagging.length === 0 || r.timed_out);
  if (!ready.length) return [];
  for (const r of ready.filter((r) => r.lagging.length > 0)) {
    console.warn(`scheduler: stopping deployment ${r.id} without every proxy's acknowledgement of epoch ${r.retire_epoch} after ${ACK_TIMEOUT_MS} ms; lagging: ${lagSummary(r.lagging)}`);
    await tx.query(`INSERT INTO events (project_id, kind, data) VALUES ($1, 'deployment.retire_timeout', $2)`, [
      r.project_id,
      JSON.stringify({ deploymentId: r.id, epoch: Number(r.retire_epoch), lagging: r.lagging }),
    ]);
  }
  const ids = ready.map((r) => r.id as string);
  await tx.query('UPDATE deployments SET retire_epoch = NULL WHERE id = ANY($1)', [ids]);
  return stopTasksWhere(tx, 'deployment_id = ANY($1)', [ids]);
}
