import type { IRequest } from 'itty-router';
import { CreateProject, newId, type Project, type ProjectDetail } from '../../protocol/index.js';
import { requireProject, requireUser, type ProjectRef } from '../auth.js';
import { transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';
import { appUrl } from '../urls.js';
import { maxArtifactBytes } from './artifacts.js';
import { loadDeployment } from './deployment-view.js';

function view(deps: Deps, p: ProjectRef): Project {
  return { id: p.id, name: p.slug, liveDeploymentId: p.liveDeploymentId, createdAt: p.createdAt, urls: { app: appUrl(deps.env, p.slug) } };
}

export async function createProject(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  if (user.tokenProjectId) throw new HttpError(403, 'forbidden', 'a project-scoped token cannot create projects');
  const { name } = await readJson(request, CreateProject);
  const id = newId('p');
  const created = await transaction(deps.db(), async (tx) => {
    const { rows } = await tx.query(
      `INSERT INTO projects (id, slug, created_by) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING RETURNING created_at`,
      [id, name, user.id],
    );
    if (!rows[0]) return null;
    await tx.query(`INSERT INTO members (project_id, user_id, role) VALUES ($1, $2, 'owner')`, [id, user.id]);
    await tx.query(`INSERT INTO events (actor, project_id, kind) VALUES ($1, $2, 'project.created')`, [user.id, id]);
    return new Date(rows[0].created_at).toISOString();
  });
  if (!created) throw new HttpError(409, 'project_exists', `a project named ${name} already exists`);
  return json(view(deps, { id, slug: name, liveDeploymentId: null, createdAt: created }), 201);
}

export async function listProjects(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const { rows } = await deps.db().query(
    `SELECT p.id, p.slug, p.live_deployment_id, p.created_at FROM projects p
     WHERE ($1 OR EXISTS (SELECT 1 FROM members m WHERE m.project_id = p.id AND m.user_id = $2))
       AND ($3::text IS NULL OR p.id = $3) ORDER BY p.slug`,
    [user.isAdmin, user.id, user.tokenProjectId],
  );
  const projects = rows.map((r) =>
    view(deps, { id: r.id, slug: r.slug, liveDeploymentId: r.live_deployment_id, createdAt: new Date(r.created_at).toISOString() }),
  );
  return json({ projects });
}

export async function getProject(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const liveDeployment = project.liveDeploymentId ? await loadDeployment(deps, project.liveDeploymentId) : null;
  return json({ ...view(deps, project), liveDeployment, limits: { artifactBytes: maxArtifactBytes(deps.env) } } satisfies ProjectDetail);
}
