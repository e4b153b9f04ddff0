import type { IRequest } from 'itty-router';
import { Rollback } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';
import { loadDeployment } from './deployment-view.js';
import { restoreReleaseEnv } from './env-restore.js';
import { createRelease, loadRelease } from './release.js';

/**
 * POST /api/v1/projects/:project/rollback: a new release copying an earlier one that was live
 * (default: the standby one, else the most recently live superseded one). It keeps the current
 * replica count, so a rollback does not undo a scale, and goes live only once healthy. The target's
 * env becomes the project's env again (env-restore.ts), as on Heroku.
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
  const live = project.liveDeploymentId ? await loadRelease(deps, project.liveDeploymentId) : null;
  await restoreReleaseEnv(deps, user, source);
  const id = await createRelease(deps, user, source, {
    replicas: live?.replicas ?? source.replicas,
    deadlineSeconds: body.deadlineSeconds,
    reason: `rollback to ${targetId}`,
  });
  return json(await loadDeployment(deps, id), 201);
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
