import type { IRequest } from 'itty-router';
import type { z } from 'zod';
import { CreateDeployment, newId } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import { decrypt, encrypt } from '../../protocol/crypto.js';
import type { Deps } from '../deps.js';
import { HttpError, json, notFound, readJson } from '../http.js';
import { evaluateFor } from '../scheduler/evaluate.js';
import { projectOwnsArtifact } from './artifacts.js';
import { loadDeployment, loadDeployments } from './deployment-view.js';

export async function createDeployment(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const body = await readJson(request, CreateDeployment);
  if (!(await projectOwnsArtifact(deps, project.id, body.artifact))) {
    throw new HttpError(404, 'artifact_not_found',
      `artifact ${body.artifact.slice(0, 19)}… not found in the registry of ${project.slug}; upload it first (PUT /api/v1/projects/${project.slug}/artifacts)`);
  }
  const id = await insertDeployment(deps, project.id, user.id, body);
  return json(await loadDeployment(deps, id), 201);
}

/**
 * Creates a deployment of an artifact the project owns (env snapshot = project env + body.env) and
 * raises an evaluation: the one path for a new release, also taken by a build that deploys (edge/builds).
 */
export async function insertDeployment(deps: Deps, projectId: string, userId: string | null, body: z.output<typeof CreateDeployment>): Promise<string> {
  const db = deps.db();
  const envSnapshot = { ...(await projectEnv(deps, projectId)), ...body.env };
  const id = newId('d');
  await db.query(
    `INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, status, created_by, deadline_at, restart_policy)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, now() + make_interval(secs => $10), $11)`,
    [id, projectId, body.artifact, body.command, await encrypt(deps.env.ENV_ENCRYPTION_KEY, JSON.stringify(envSnapshot)),
      body.replicas, JSON.stringify(body.healthCheck), JSON.stringify(body.resources), userId, body.deadlineSeconds, body.restartPolicy],
  );
  await db.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'deployment.created', $3)`, [
    userId, projectId, JSON.stringify({ deploymentId: id, artifact: body.artifact }),
  ]);
  await evaluateFor(deps, { projects: [projectId] });
  return id;
}

async function projectEnv(deps: Deps, projectId: string): Promise<Record<string, string>> {
  const { rows } = await deps.db().query('SELECT key, value_enc FROM env_vars WHERE project_id = $1', [projectId]);
  const env: Record<string, string> = {};
  for (const r of rows) env[r.key] = await decrypt(deps.env.ENV_ENCRYPTION_KEY, r.value_enc);
  return env;
}

export async function listDeployments(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  return json({ deployments: await loadDeployments(deps, 'd.project_id = $1', [project.id]) });
}

export async function getDeployment(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const id = request.params.id!;
  const { rows } = await deps
    .db()
    .query('SELECT p.slug, d.project_id, d.status, d.deadline_at < now() AS overdue FROM deployments d JOIN projects p ON p.id = d.project_id WHERE d.id = $1', [id]);
  if (!rows[0]) throw notFound(`deployment ${id}`);
  // Another project's deployment is as unknown as a missing one: the answer must not name its project.
  await requireProject(deps, user, rows[0].slug, 'viewer').catch((err) => {
    throw err instanceof HttpError && err.status === 404 ? notFound(`deployment ${id}`) : err;
  });
  // The scheduler's alarm notices a deadline within a sweep; a reader asking now need not wait for it.
  if (rows[0].overdue && ['pending', 'deploying'].includes(rows[0].status)) await evaluateFor(deps, { projects: [rows[0].project_id] });
  return json(await loadDeployment(deps, id));
}
