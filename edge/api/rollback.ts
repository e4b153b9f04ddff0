import type { IRequest } from 'itty-router';
import { Rollback, type RollbackAnswer } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';
import { evaluateFor } from '../scheduler/evaluate.js';
import { loadDeployment } from './deployment-view.js';
import { restoreReleaseEnv } from './env-restore.js';
import { createRelease, loadRelease } from './release.js';
import { switchToRunning } from './rollback-switch.js';

/**
 * POST /api/v1/projects/:project/rollback, to an earlier release that was live (default: the standby
 * one, else the most recently live superseded one). Instant when that release still runs in full
 * (the standby): routing switches to it (rollback-switch.ts). Otherwise a new release copying it,
 * which goes live only once healthy. Either keeps the current replica count, so a rollback does not
 * undo a scale, and makes the target's env the project's env again (env-restore.ts), as on Heroku.
 */
export async function rollback(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const body = await readJson(request, Rollback);
  const targetId = body.deployment ?? (await previousGoodRelease(deps, project.id, project.liveDeploymentId));
  const target = await deps.db().query('SELECT id, project_id, live_at FROM deployments WHERE id = $1', [targetId]);
  const row = target.rows[0];
  if (!row || row.project_id !== project.id) {
    throw new HttpError(404, 'deployment_not_found', `deployment ${targetId} is not a deployment of ${project.slug}`);
  }
  if (targetId === project.liveDeploymentId) {
    throw new HttpError(409, 'already_live', `deployment ${targetId} is already live on ${project.slug}`);
  }
  if (!row.live_at) {
    throw new HttpError(409, 'never_live', `deployment ${targetId} never went live; roll back to one that did (see \`zectre deployments list ${project.slug}\`)`);
  }
  const source = (await loadRelease(deps, targetId))!;
  const switched = await switchToRunning(deps, user, project, source);
  if (switched) {
    if (switched.needsPass) await evaluateFor(deps, { projects: [project.id] });
    const answer: RollbackAnswer = { ...(await loadDeployment(deps, targetId))!, switched: true };
    return json(answer);
  }
  const live = project.liveDeploymentId ? await loadRelease(deps, project.liveDeploymentId) : null;
  await restoreReleaseEnv(deps, user, source);
  const id = await createRelease(deps, user, source, {
    replicas: live?.replicas ?? source.replicas,
    deadlineSeconds: body.deadlineSeconds,
    reason: `rollback to ${targetId}`,
  });
  const answer: RollbackAnswer = { ...(await loadDeployment(deps, id))!, switched: false };
  return json(answer, 201);
}

async function previousGoodRelease(deps: Deps, projectId: string, liveId: string | null): Promise<string> {
  const { rows } = await deps.db().query(
    `SELECT id FROM deployments
     WHERE project_id = $1 AND id IS DISTINCT FROM $2 AND live_at IS NOT NULL AND status IN ('standby', 'superseded')
     ORDER BY status = 'standby' DESC, live_at DESC LIMIT 1`,
    [projectId, liveId],
  );
  if (!rows[0]) throw new HttpError(409, 'no_previous_release', 'there is no earlier release that went live to roll back to');
  return rows[0].id;
}
