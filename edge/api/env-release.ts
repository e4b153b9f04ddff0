import type { IRequest } from 'itty-router';
import { UnsetEnv, type Deployment, type EnvChangeAnswer } from '../../protocol/index.js';
import { requireProject, requireUser, type ProjectRef, type User } from '../auth.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';
import { loadDeployment } from './deployment-view.js';
import { createRelease, loadRelease } from './release.js';

/**
 * An env change creates a new release, as on Heroku: the latest release's env snapshot with the
 * change applied, health-gated like any deploy. "Latest" is the newest of the live one and any still
 * rolling out, so a change made during a deploy builds on that deploy instead of reverting it.
 * Null when nothing is live (the next deploy picks the change up).
 */
export async function releaseEnvChange(
  deps: Deps,
  user: User,
  project: ProjectRef,
  change: { set?: Record<string, string>; unset?: string[] },
): Promise<Deployment | null> {
  if (!project.liveDeploymentId) return null;
  const { rows } = await deps.db().query(
    `SELECT id FROM deployments WHERE project_id = $1 AND (id = $2 OR status IN ('pending', 'deploying'))
     ORDER BY created_at DESC, id DESC LIMIT 1`,
    [project.id, project.liveDeploymentId],
  );
  const latest = rows[0] ? await loadRelease(deps, rows[0].id) : null;
  if (!latest) return null;
  const keys = [...Object.keys(change.set ?? {}), ...(change.unset ?? [])];
  const id = await createRelease(deps, user, latest, {
    env: (env) => {
      const next = { ...env, ...change.set };
      for (const key of change.unset ?? []) delete next[key];
      return next;
    },
    reason: `${change.set ? 'env.set' : 'env.unset'} ${keys.join(', ')}`,
  });
  return loadDeployment(deps, id);
}

/** POST /api/v1/projects/:project/env/unset `{keys}`: removes several vars at once (one release); all must exist. */
export async function unsetEnvKeys(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const { keys } = await readJson(request, UnsetEnv);
  const db = deps.db();
  const { rows } = await db.query('SELECT key FROM env_vars WHERE project_id = $1 AND key = ANY($2)', [project.id, keys]);
  const missing = keys.filter((k) => !rows.some((r) => r.key === k));
  if (missing.length) throw new HttpError(404, 'env_var_not_found', `project ${project.slug} has no env var ${missing.join(', ')}`);
  await db.query('DELETE FROM env_vars WHERE project_id = $1 AND key = ANY($2)', [project.id, keys]);
  await db.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'env.unset', $3)`, [user.id, project.id, JSON.stringify({ keys })]);
  const answer: EnvChangeAnswer = { keys, release: await releaseEnvChange(deps, user, project, { unset: keys }) };
  return json(answer);
}
