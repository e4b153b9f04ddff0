import type { HeartbeatRequest, ObservedTask } from '../../protocol/index.js';
import { bumpRouteEpoch, transaction, type Db, type Tx } from '../db.js';

const ROUTABLE = 'healthy';

export interface Written {
  /** The node's generation in the database. */
  generation: number;
  /** Projects of the tasks whose reported state changed: they need an evaluation. */
  projects: string[];
}

/**
 * A heartbeat that brought news, in one transaction and without the scheduler lock: the node row,
 * then only the tasks whose state changed. A routing change bumps the route epoch.
 */
export async function writeHeartbeat(db: Db, nodeId: string, body: HeartbeatRequest): Promise<Written> {
  return transaction(db, async (tx) => {
    const { rows } = await tx.query(
      `UPDATE nodes SET last_heartbeat_at = now(), applied_generation = $2, status = 'ready',
         push_url = CASE WHEN $3 THEN $4 ELSE push_url END,
         foreign_ports = CASE WHEN $5 THEN $6::int[] ELSE foreign_ports END WHERE id = $1 RETURNING generation`,
      [nodeId, body.appliedGeneration, body.pushUrl !== undefined, body.pushUrl ?? null, body.foreignPorts !== undefined, body.foreignPorts ?? []],
    );
    const observed = await recordObserved(tx, nodeId, body.tasks);
    // Tasks the agent no longer reports and should not run are gone.
    await tx.query(
      `UPDATE tasks SET observed_state = 'stopped', updated_at = now()
       WHERE node_id = $1 AND desired_state = 'stopped' AND observed_state NOT IN ('stopped', 'lost') AND NOT (id = ANY($2))`,
      [nodeId, body.tasks.map((t) => t.id)],
    );
    if (observed.routingChanged) await bumpRouteEpoch(tx);
    return { generation: Number(rows[0]?.generation ?? 0), projects: observed.projects };
  });
}

/** Stores what the agent observed (state, restarts, exit, CPU, RSS) for the tasks whose state changed. */
async function recordObserved(tx: Tx, nodeId: string, tasks: ObservedTask[]): Promise<{ routingChanged: boolean; projects: string[] }> {
  if (!tasks.length) return { routingChanged: false, projects: [] };
  const { rows } = await tx.query(
    `SELECT t.id, t.observed_state, t.restarts, t.exit_code, t.message, t.observed_code, d.project_id
     FROM tasks t JOIN deployments d ON d.id = t.deployment_id WHERE t.node_id = $1 AND t.id = ANY($2) FOR UPDATE OF t`,
    [nodeId, tasks.map((t) => t.id)],
  );
  const before = new Map(rows.map((r) => [r.id as string, r]));
  const changed = tasks.filter((t) => {
    const old = before.get(t.id);
    // Not this node's task (or deleted): ignored rather than trusting the agent.
    return old && !(old.observed_state === t.state && old.restarts === t.restarts && old.exit_code === (t.exitCode ?? null) && old.message === (t.message ?? null) &&
      old.observed_code === (t.code ?? null));
  });
  if (!changed.length) return { routingChanged: false, projects: [] };
  await tx.query(
    `UPDATE tasks t SET observed_state = u.state, restarts = u.restarts, exit_code = u.exit_code, message = u.message,
            observed_code = u.code, cpu_millis = u.cpu, rss_bytes = u.rss, updated_at = now()
     FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::int[], $7::bigint[], $8::text[]) AS u(id, state, restarts, exit_code, message, cpu, rss, code)
     WHERE t.id = u.id`,
    [changed.map((t) => t.id), changed.map((t) => t.state), changed.map((t) => t.restarts), changed.map((t) => t.exitCode ?? null),
      changed.map((t) => t.message ?? null), changed.map((t) => t.cpuMillis ?? null), changed.map((t) => t.rssBytes ?? null),
      changed.map((t) => t.code ?? null)],
  );
  const routingChanged = changed.some((t) => (before.get(t.id)!.observed_state === ROUTABLE) !== (t.state === ROUTABLE));
  return { routingChanged, projects: [...new Set(changed.map((t) => before.get(t.id)!.project_id as string))].sort() };
}
