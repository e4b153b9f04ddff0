import type { Evaluation } from './evaluation.js';

/**
 * Tasks on a down node are lost: stopped (if the node comes back, its next heartbeat sees a new
 * generation without them) and, since they no longer count, replaced by the replica step.
 */
export function loseTasksOnDownNodes(ev: Evaluation): void {
  if (!ev.has.down) return;
  for (const t of ev.snapshot.tasks) if (ev.nodeStatus(t) === 'down') ev.lose(t);
}
