import { ACTIVE, type Evaluation } from './evaluation.js';

/**
 * Health-gated drain. A draining node takes no new tasks and its tasks count for no replica, so the
 * replica step places their replacements elsewhere; a task on it keeps serving until its deployment
 * has `replicas` routable tasks on nodes that are not draining, then it retires (out of routing,
 * stopped after the proxies acknowledge). With no room elsewhere the drain waits and nothing stops.
 */
export function finishDrains(ev: Evaluation): void {
  if (!ev.has.draining) return;
  for (const d of ev.deployments) {
    if (!ACTIVE.has(ev.statusOf(d))) continue;
    const running = ev.running(d);
    const draining = running.filter((t) => !t.retirement && ev.nodeStatus(t) === 'draining');
    if (!draining.length) continue;
    const elsewhere = running.filter((t) => ev.nodeStatus(t) === 'ready' && ev.routable(t)).length;
    if (elsewhere >= d.replicas) for (const t of draining) ev.retire(t);
  }
}
