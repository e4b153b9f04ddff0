import type { IRequest } from 'itty-router';
import { AddDomain, type DomainView } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import { bumpRouteEpoch, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, iso, json, readJson } from '../http.js';

/**
 * Custom domains (issue 11.4). The API records the domain and bumps the route epoch: every proxy
 * routes it to the project's live deployment at once, and the proxy holding the ACME lease orders
 * its certificate (node-proxy/acme/). Status and the CA's reasons are read back from the row.
 */
const COLUMNS = 'hostname, status, status_message, not_after, renew_after, created_at, updated_at';

function view(r: Record<string, unknown>): DomainView {
  return {
    hostname: r.hostname as string,
    status: r.status as DomainView['status'],
    message: r.status_message as string,
    notAfter: iso(r.not_after),
    renewAfter: iso(r.renew_after),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

/** POST /api/v1/projects/:project/domains {hostname}: 201, or 200 when a failed one is tried again. */
export async function addDomain(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'developer');
  const { hostname } = await readJson(request, AddDomain);
  const apps = deps.env.APPS_DOMAIN.toLowerCase();
  if (hostname === apps || hostname.endsWith(`.${apps}`)) {
    throw new HttpError(400, 'reserved_hostname', `${hostname} is under the platform's apps domain ${apps}, which is routed already; add a domain of your own`);
  }
  const { row, created } = await transaction(deps.db(), async (tx) => {
    const { rows: taken } = await tx.query(
      `SELECT d.status, d.project_id, p.slug FROM domains d JOIN projects p ON p.id = d.project_id WHERE d.hostname = $1
       UNION ALL SELECT NULL, r.project_id, p.slug FROM routes r JOIN projects p ON p.id = r.project_id WHERE r.host = $1`,
      [hostname],
    );
    const other = taken.find((t) => t.project_id !== project.id || t.status !== 'failed');
    if (other) {
      const where = other.project_id === project.id ? 'this project already has it' : 'another project has it';
      throw new HttpError(409, 'hostname_taken', `${hostname} is already taken: ${where}${other.project_id === project.id ? ' (zectre domains list)' : ''}`);
    }
    const retry = taken.length > 0;
    const { rows } = retry
      ? await tx.query(`UPDATE domains SET status = 'pending', status_message = '', updated_at = now() WHERE hostname = $1 RETURNING ${COLUMNS}`, [hostname])
      : await tx.query(`INSERT INTO domains (hostname, project_id) VALUES ($1, $2) RETURNING ${COLUMNS}`, [hostname, project.id]);
    await bumpRouteEpoch(tx);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'domain.added', $3)`, [user.id, project.id, JSON.stringify({ hostname, retry })]);
    return { row: rows[0], created: !retry };
  });
  return json({ domain: view(row) }, created ? 201 : 200);
}

export async function listDomains(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const { rows } = await deps.db().query(`SELECT ${COLUMNS} FROM domains WHERE project_id = $1 ORDER BY hostname`, [project.id]);
  return json({ domains: rows.map(view) });
}

export async function getDomain(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const hostname = request.params.hostname!.toLowerCase();
  const { rows } = await deps.db().query(`SELECT ${COLUMNS} FROM domains WHERE project_id = $1 AND hostname = $2`, [project.id, hostname]);
  if (!rows.length) throw new HttpError(404, 'domain_not_found', `project ${project.slug} has no domain ${hostname}`);
  return json({ domain: view(rows[0]) });
}

/** DELETE (owner, like every delete): the host stops routing at the next epoch; its certificate and challenges go with the row. */
export async function removeDomain(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const hostname = request.params.hostname!.toLowerCase();
  await transaction(deps.db(), async (tx) => {
    const { rowCount } = await tx.query('DELETE FROM domains WHERE project_id = $1 AND hostname = $2', [project.id, hostname]);
    if (!rowCount) throw new HttpError(404, 'domain_not_found', `project ${project.slug} has no domain ${hostname}`);
    await bumpRouteEpoch(tx);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'domain.removed', $3)`, [user.id, project.id, JSON.stringify({ hostname })]);
  });
  return json({ deleted: hostname });
}
