import { bumpRouteEpoch, type Tx } from '../db.js';
import { DEFAULT_CONFIG } from './reconciler/types.js';

/**
 * Deferred stop of tasks that leave routing (issue 4, point 7): a proxy still serving an older
 * epoch may still send them requests, so they keep running until every live proxy has
 * acknowledged the epoch that removed them (node-proxy/epoch-report.ts writes `proxies`), or the
 * ack timeout passed. The reconciler decides when (reconciler/acknowledged.ts); these are the
 * SQL pieces the API shares.
 */

/** A proxy that has not reported for this long is gone (it reports at least every 2 s). */
export const PROXY_LIVENESS_MS = DEFAULT_CONFIG.proxyLivenessMs;

/** SQL: the live proxies (id, epoch) still serving an epoch below `epoch`, as a JSON array. */
export function laggingProxies(epoch: string): string {
  return `coalesce((SELECT json_agg(json_build_object('id', px.id, 'epoch', px.epoch) ORDER BY px.id) FROM proxies px
                    WHERE px.last_seen_at > now() - make_interval(secs => ${PROXY_LIVENESS_MS / 1000}) AND px.epoch < ${epoch}), '[]')`;
}

/**
 * Takes single tasks out of routing now (an epoch bump; the route query skips retiring tasks); the
 * scheduler stops them once every live proxy serves that epoch. Used by the scale API.
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
