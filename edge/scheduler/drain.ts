import type { Tx } from '../db.js';
import { retireTasks } from './retire.js';
import type { Snapshot } from './planner.js';

/**
 * Node drain, health-gated. A draining node (nodes.draining_since set) takes no new tasks, and the
 * planner is shown its tasks as missing so it places replacements elsewhere; a task on it stops
 * once its deployment has `replicas` healthy tasks on nodes that are not draining: it then leaves
 * routing and stops after the proxies acknowledge (retire.ts). Until then it keeps serving (draining
 * nodes stay `ready` for routing), so no request is lost.
 */
export async function withoutDraining(tx: Tx, snapshot: Snapshot): Promise<Snapshot> {
  const { rows } = await tx.query('SELECT id FROM nodes WHERE draining_since IS NOT NULL');
  if (!rows.length) return snapshot;
  const draining = new Set(rows.map((r) => r.id as string));
  return {
    ...snapshot,
    nodes: snapshot.nodes.filter((n) => !draining.has(n.id)),
    tasks: snapshot.tasks.filter((t) => !draining.has(t.nodeId)),
  };
}

/** Retires draining nodes' tasks whose replacements are healthy; touches no node until they stop. */
export async function finishDrains(tx: Tx): Promise<string[]> {
  const { rows } = await tx.query(
    `SELECT t.id FROM tasks t JOIN nodes n ON n.id = t.node_id JOIN deployments d ON d.id = t.deployment_id
     WHERE n.draining_since IS NOT NULL AND t.desired_state = 'running' AND t.retire_epoch IS NULL
       AND (SELECT count(*) FROM tasks r JOIN nodes rn ON rn.id = r.node_id
            WHERE r.deployment_id = d.id AND r.desired_state = 'running' AND r.observed_state = 'healthy' AND r.retire_epoch IS NULL
              AND rn.draining_since IS NULL AND rn.status = 'ready') >= d.replicas`,
  );
  await retireTasks(tx, rows.map((r) => r.id as string));
  return [];
}
