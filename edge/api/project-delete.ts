import type { IRequest } from 'itty-router';
import { requireProject, requireUser } from '../auth.js';
import { bumpRouteEpoch, lockScheduler, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { json } from '../http.js';
import { bumpGenerations } from '../scheduler/task-stop.js';
import { pushToNodes } from '../scheduler/push.js';
import { notifyGenerations } from '../scheduler/shards.js';

/**
 * DELETE /api/v1/projects/:project (owner): removes the project with its deployments, tasks, env,
 * routes and logs (FKs cascade). Its tasks vanish from their nodes' desired state, so each node's
 * generation is bumped and its agent stops them; the route epoch bump drops its hosts from proxies.
 */
export async function deleteProject(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const nodes = await transaction(deps.db(), async (tx) => {
    await lockScheduler(tx);
    const { rows } = await tx.query(
      `SELECT DISTINCT t.node_id FROM tasks t JOIN deployments d ON d.id = t.deployment_id
       WHERE d.project_id = $1 AND t.desired_state = 'running'`,
      [project.id],
    );
    const nodeIds = rows.map((r) => r.node_id as string).sort();
    // Node rows before task rows, the order a heartbeat locks them in; the other order deadlocks with it.
    const generations = await bumpGenerations(tx, nodeIds);
    await tx.query('DELETE FROM routes WHERE project_id = $1', [project.id]);
    await tx.query('UPDATE projects SET live_deployment_id = NULL WHERE id = $1', [project.id]);
    await tx.query('DELETE FROM projects WHERE id = $1', [project.id]);
    await bumpRouteEpoch(tx);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'project.deleted', $3)`, [
      user.id, project.id, JSON.stringify({ name: project.slug, stoppedOn: nodeIds }),
    ]);
    return { nodeIds, generations };
  });
  await notifyGenerations(deps.env.NODE_SHARDS, nodes.generations);
  await pushToNodes(deps, nodes.nodeIds);
  return json({ deleted: project.slug, stoppedOn: nodes.nodeIds });
}
