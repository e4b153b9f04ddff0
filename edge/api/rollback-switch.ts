import type { ProjectRef, User } from '../auth.js';
import { bumpRouteEpoch, lockScheduler, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { restoreReleaseEnvIn } from './env-restore.js';
import type { ReleaseRow } from './release.js';

export interface Switched {
  /** The scheduler has work from it: the target's replica count changed, or a rollout in flight was superseded. */
  needsPass: boolean;
}

/**
 * Instant rollback: when the target is the standby release and still has the live replica count of
 * routable tasks (healthy, not retiring, on a node that is not down), one transaction makes it live
 * (route epoch bump: proxies reload on NOTIFY), makes the live one the standby (it keeps running, so
 * rolling back again is instant too), and restores the target's env as the project's env. It takes
 * the scheduler's lock, so no pass interleaves (reconcile.ts). Rollouts in flight are superseded:
 * they would otherwise cut over on top of the rollback once healthy. The target takes the live
 * replica count (a rollback does not undo a scale; it has at least that many, so the scheduler only
 * retires a surplus). Null when it does not hold: then the caller starts a new release as before.
 */
export async function switchToRunning(deps: Deps, user: User, project: ProjectRef, target: ReleaseRow): Promise<Switched | null> {
  return transaction(deps.db(), async (tx) => {
    await lockScheduler(tx);
    const { rows } = await tx.query(
      `SELECT d.id, d.replicas, t.status AS target_status, t.retire_epoch AS target_retiring, t.replicas AS target_replicas
       FROM projects p JOIN deployments d ON d.id = p.live_deployment_id JOIN deployments t ON t.id = $2
       WHERE p.id = $1 FOR UPDATE OF p`,
      [project.id, target.id],
    );
    const live = rows[0];
    if (!live || live.id === target.id || live.target_status !== 'standby' || live.target_retiring !== null) return null;
    // FOR SHARE: a heartbeat cannot mark one of them unhealthy between this count and the switch.
    const serving = await tx.query(
      `SELECT t.id FROM tasks t JOIN nodes n ON n.id = t.node_id
       WHERE t.deployment_id = $1 AND t.desired_state = 'running' AND t.observed_state = 'healthy'
         AND t.retire_epoch IS NULL AND n.status <> 'down' FOR SHARE OF t`,
      [target.id],
    );
    if (serving.rows.length < live.replicas) return null;
    const epoch = await bumpRouteEpoch(tx);
    const superseded = await tx.query(
      `UPDATE deployments SET status = 'superseded', status_reason = $3, retire_epoch = $2, retire_requested_at = now()
       WHERE project_id = $1 AND status IN ('pending', 'deploying') RETURNING id`,
      [project.id, epoch, `rolled back to ${target.id} before this release went live`],
    );
    await tx.query(`UPDATE deployments SET status = 'standby' WHERE id = $1`, [live.id]);
    await tx.query(
      `UPDATE deployments SET status = 'live', status_reason = NULL, replicas = $2, live_at = now(), live_epoch = $3 WHERE id = $1`,
      [target.id, live.replicas, epoch],
    );
    await tx.query('UPDATE projects SET live_deployment_id = $2 WHERE id = $1', [project.id, target.id]);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'deployment.live', $3)`, [
      user.id, project.id,
      JSON.stringify({ deploymentId: target.id, previous: live.id, reason: 'rollback: routing switched to the running release' }),
    ]);
    await restoreReleaseEnvIn(tx, deps, user, target);
    return { needsPass: superseded.rows.length > 0 || live.target_replicas !== live.replicas };
  });
}
