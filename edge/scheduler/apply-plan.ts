import { newId } from '../../protocol/index.js';
import type { Tx } from '../db.js';
import type { Plan } from './planner.js';

/**
 * Commits a plan inside the caller's transaction: new tasks, stopped tasks, pending deployments
 * that got tasks become deploying, and every touched node's desired generation is bumped.
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
  if (plan.stop.length) {
    const { rows } = await tx.query(
      `UPDATE tasks SET desired_state = 'stopped', updated_at = now() WHERE id = ANY($1) RETURNING node_id`,
      [plan.stop],
    );
    for (const r of rows) touched.add(r.node_id);
  }
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

export async function bumpGenerations(tx: Tx, nodeIds: string[]): Promise<void> {
  if (nodeIds.length) await tx.query('UPDATE nodes SET generation = generation + 1 WHERE id = ANY($1)', [nodeIds]);
}

/** Marks tasks stopped and bumps their nodes; returns the touched node ids. */
export async function stopTasksWhere(tx: Tx, condition: string, params: unknown[]): Promise<string[]> {
  const { rows } = await tx.query(
    `UPDATE tasks SET desired_state = 'stopped', updated_at = now()
     WHERE desired_state = 'running' AND ${condition} RETURNING node_id`,
    params,
  );
  const nodes = [...new Set(rows.map((r) => r.node_id as string))];
  await bumpGenerations(tx, nodes);
  return nodes;
}
