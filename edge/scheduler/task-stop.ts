import type { Tx } from '../db.js';

/** Tells the agents of these nodes that their desired state changed. */
export async function bumpGenerations(tx: Tx, nodeIds: string[]): Promise<void> {
  if (nodeIds.length) await tx.query('UPDATE nodes SET generation = generation + 1 WHERE id = ANY($1)', [nodeIds]);
}
