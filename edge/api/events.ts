import type { IRequest } from 'itty-router';
import { EventQuery, type EventView } from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { json, readQuery } from '../http.js';

/** GET /api/v1/projects/:project/events?limit=&before=: the project's audit trail, newest first. */
export async function listEvents(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const { limit, before } = readQuery(request, EventQuery);
  const { rows } = await deps.db().query(
    `SELECT e.id, e.at, u.name AS actor, e.kind, e.data FROM events e LEFT JOIN users u ON u.id = e.actor
     WHERE e.project_id = $1 AND ($2::bigint IS NULL OR e.id < $2) ORDER BY e.id DESC LIMIT $3`,
    [project.id, before ?? null, limit],
  );
  const events: EventView[] = rows.map((r) => ({ id: Number(r.id), at: new Date(r.at).toISOString(), actor: r.actor, kind: r.kind, data: r.data }));
  return json({ events });
}
