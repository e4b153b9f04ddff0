import type { Tx } from '../db.js';

/**
 * Nodes silent for three heartbeat intervals are down (SQL clock: the heartbeat stamps
 * last_heartbeat_at with it). The route query skips their tasks at once; what becomes of the tasks
 * (lost, replaced elsewhere) is the reconciler's decision. Returns the ids of the nodes now down.
 */
export async function markLostNodes(tx: Tx, heartbeatMs: number): Promise<string[]> {
  const { rows } = await tx.query(
    `UPDATE nodes SET status = 'down' WHERE status = 'ready' AND last_heartbeat_at < now() - make_interval(secs => $1) RETURNING id`,
    [(heartbeatMs * 3) / 1000],
  );
  return rows.map((r) => r.id as string);
}
