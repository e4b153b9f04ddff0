import type { Tx } from '../db.js';
import type { GenerationBump } from './shards.js';

/** Tells the agents of these nodes that their desired state changed; returns the new generations (for their shards). */
export async function bumpGenerations(tx: Tx, nodeIds: string[]): Promise<GenerationBump[]> {
  if (!nodeIds.length) return [];
  const { rows } = await tx.query('UPDATE nodes SET generation = generation + 1 WHERE id = ANY($1) RETURNING id, generation', [nodeIds]);
  return rows.map((r) => ({ id: r.id as string, generation: Number(r.generation) }));
}
