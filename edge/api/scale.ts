import type { IRequest } from 'itty-router';
import { Scale, type Resources, type ScaleAnswer } from '../../protocol/index.js';
import { requireProject, requireUser, type ProjectRef, type User } from '../auth.js';
import { lockScheduler, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';
import { evaluateFor } from '../scheduler/evaluate.js';
import { retireTasks } from '../scheduler/retire.js';
import { loadDeployment } from './deployment-view.js';
import { createRelease, loadRelease } from './release.js';

/**
 * POST /api/v1/projects/:project/scale. A replica count alone changes the live deployment in place
 * (as `heroku ps:scale` does, no new release). Up: the planner places tasks, which join routing once
 * healthy. Down: the extra tasks (unhealthy ones first) leave routing at once and stop when every
 * proxy serves the routes without them (retire.ts); the app gets SIGTERM and finishes in-flight requests.
 * New resources cannot change under a running process: they start a new release of the live one.
 */
export async function scale(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const body = await readJson(request, Scale);
  if (body.resources) {
    const answer = await scaleResources(deps, user, project, body.resources, body.replicas);
    if (answer) return json(answer, 201);
  }
  const result = await transaction(deps.db(), async (tx) => {
    await lockScheduler(tx);
    const live = await tx.query(
      `SELECT d.id, d.replicas FROM projects p JOIN deployments d ON d.id = p.live_deployment_id WHERE p.id = $1`,
      [project.id],
    );
    const row = live.rows[0];
    if (!row) throw nothingLive(project);
    const replicas = body.replicas ?? (row.replicas as number);
    await tx.query('UPDATE deployments SET replicas = $2 WHERE id = $1', [row.id, replicas]);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'deployment.scaled', $3)`, [
      user.id, project.id, JSON.stringify({ deploymentId: row.id, from: row.replicas, to: replicas }),
    ]);
    const extra = await tx.query(
      `SELECT id FROM tasks WHERE deployment_id = $1 AND desired_state = 'running'
         AND retire_epoch IS NULL
       ORDER BY observed_state = 'healthy', created_at DESC, id DESC OFFSET $2`,
      [row.id, replicas],
    );
    const ids = extra.rows.map((r) => r.id as string);
    await retireTasks(tx, ids);
    return { id: row.id as string, previous: row.replicas as number };
  });
  await evaluateFor(deps, { projects: [project.id] });
  const answer: ScaleAnswer = { deployment: (await loadDeployment(deps, result.id))!, previousReplicas: result.previous, newRelease: false };
  return json(answer);
}

/**
 * A new release of the live deployment with `resources` over its own (the count given, else the
 * current one). Null when they are what it runs with already: then only the count changes, in place.
 */
async function scaleResources(
  deps: Deps, user: User, project: ProjectRef, change: Partial<Resources>, replicas: number | undefined,
): Promise<ScaleAnswer | null> {
  const live = project.liveDeploymentId ? await loadRelease(deps, project.liveDeploymentId) : null;
  if (!live) throw nothingLive(project);
  const resources = { ...live.resources, ...change };
  if (resources.cpuMillis === live.resources.cpuMillis && resources.memoryMb === live.resources.memoryMb) return null;
  const id = await createRelease(deps, user, live, {
    replicas: replicas ?? live.replicas,
    resources,
    reason: `scale to ${resources.cpuMillis}m CPU, ${resources.memoryMb} MB per task`,
  });
  return { deployment: (await loadDeployment(deps, id))!, previousReplicas: live.replicas, newRelease: true };
}

const nothingLive = (project: ProjectRef) => new HttpError(409, 'nothing_live', `${project.slug} has no live deployment to scale; deploy first`);
