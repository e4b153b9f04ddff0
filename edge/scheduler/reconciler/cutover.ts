import type { Evaluation } from './evaluation.js';
import type { DeploymentSnap } from './types.js';

/**
 * Health-gated cutover. A deploying deployment goes live once `replicas` of its tasks are routable
 * (healthy, not retiring, on a node that is not down). The previous live one becomes `standby` and
 * keeps running (instant rollback, its preview URL still answers); the previous standby becomes
 * `superseded` and leaves routing, its tasks stopping after the proxies acknowledge. So at most two
 * releases run per project. A deployment older than the live one never goes live: it is superseded.
 * Oldest first, so two deployments healthy in the same evaluation go live in the order they were made.
 */
export function promoteHealthy(ev: Evaluation): void {
  for (const d of ev.deployments) {
    if (ev.statusOf(d) !== 'deploying') continue;
    const routable = ev.running(d).filter((t) => ev.routable(t)).length;
    if (routable < d.replicas) continue;
    const live = ev.liveId === null ? undefined : ev.deployment(ev.liveId);
    if (live && live.createdAt > d.createdAt) {
      ev.update(d, { status: 'superseded', reason: 'a newer deployment went live first' });
      ev.retireDeployment(d);
    } else {
      cutover(ev, d, live);
    }
  }
}

function cutover(ev: Evaluation, d: DeploymentSnap, live: DeploymentSnap | undefined): void {
  for (const s of ev.deployments) {
    if (ev.statusOf(s) !== 'standby') continue;
    ev.update(s, { status: 'superseded' });
    ev.retireDeployment(s);
  }
  if (live) ev.update(live, { status: 'standby' });
  ev.update(d, { status: 'live', reason: null });
  ev.liveId = d.id;
  ev.out.live = d.id;
  ev.out.routingChanged = true;
  ev.out.events.push({ kind: 'deployment.live', data: { deploymentId: d.id, previous: live?.id ?? null } });
}
