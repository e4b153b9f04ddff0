import type { Tx } from '../db.js';

/** Tells the agents of these nodes that their desired state changed. */
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
