import { newId } from '../../protocol/index.js';
import type { Tx } from '../db.js';
import type { Plan } from './planner.js';
import { retireTasks } from './retire.js';
import { bumpGenerations } from './task-stop.js';

/**
 * Commits a plan inside the caller's transaction: new tasks, surplus tasks retired (out of routing
 * now, stopped once the proxies acknowledge), pending deployments that got tasks become deploying,
 * and every touched node's desired generation is bumped.
 * Returns the touched node ids (to push to).
 */
export async function applyPlan(tx: Tx, plan: Plan): Promise<string[]> {
  const touched = new Set<string>();
  for (const p of plan.place) {
    await tx.query(
      `INSERT INTO tasks (id, deployment_id, node_id, port, desired_state) VALUES ($1, $2, $3, $4, 'running')`,
      [newId('t'), p.deploymentId, p.nodeId, p.port],
    );
    touched.add(p.nodeId);
  }
  await retireTasks(tx, plan.stop);
  const placed = [...new Set(plan.place.map((p) => p.deploymentId))];
  if (placed.length) {
    await tx.query(
      `UPDATE deployments SET status = 'deploying', status_reason = NULL WHERE id = ANY($1) AND status = 'pending'`,
      [placed],
    );
  }
  for (const u of plan.unplaced) {
    await tx.query(`UPDATE deployments SET status_reason = $2 WHERE id = $1`, [
      u.deploymentId,
      `waiting for capacity for ${u.missing} task(s): ${u.reason}`,
    ]);
  }
  await bumpGenerations(tx, [...touched]);
  return [...touched];
}
