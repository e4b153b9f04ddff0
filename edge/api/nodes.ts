import type { IRequest } from 'itty-router';
import type { NodeView } from '../../protocol/index.js';
import { requireUser } from '../auth.js';
import type { Db } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, json } from '../http.js';
import { evaluateFor } from '../scheduler/evaluate.js';
import { requireAdmin } from './admin.js';

const NODES = `
  SELECT n.id, n.name, n.address, n.status, n.cpu_millis, n.memory_mb, n.draining_since, n.last_heartbeat_at,
         count(t.id)::int AS running,
         coalesce(sum((d.resources->>'cpuMillis')::int), 0)::int AS cpu_used,
         coalesce(sum((d.resources->>'memoryMb')::int), 0)::int AS mem_used
  FROM nodes n
  LEFT JOIN tasks t ON t.node_id = n.id AND t.desired_state = 'running'
  LEFT JOIN deployments d ON d.id = t.deployment_id`;

async function loadNodes(db: Db, where = 'true', params: unknown[] = []): Promise<NodeView[]> {
  const { rows } = await db.query(`${NODES} WHERE ${where} GROUP BY n.id ORDER BY n.name, n.id`, params);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    address: r.address,
    status: r.status === 'down' ? 'down' : r.draining_since ? 'draining' : 'ready',
    capacity: { cpuMillis: r.cpu_millis, memoryMb: r.memory_mb },
    allocated: { cpuMillis: r.cpu_used, memoryMb: r.mem_used },
    runningTasks: r.running,
    drainingSince: r.draining_since ? new Date(r.draining_since).toISOString() : null,
    lastHeartbeatAt: new Date(r.last_heartbeat_at).toISOString(),
  }));
}

/** GET /api/v1/nodes (admin): every node with its capacity and what is allocated on it. */
export async function listNodes(request: IRequest, deps: Deps): Promise<Response> {
  requireAdmin(await requireUser(request, deps), 'listing nodes');
  return json({ nodes: await loadNodes(deps.db()) });
}

/** GET /api/v1/nodes/:node (admin), by id or name. */
export async function getNode(request: IRequest, deps: Deps): Promise<Response> {
  requireAdmin(await requireUser(request, deps), 'reading nodes');
  return json(await findNode(deps, request.params.node!));
}

/**
 * POST /api/v1/nodes/:node/drain (admin): nothing new is placed on the node; each of its tasks gets
 * a replacement elsewhere and is stopped only once the replacements are healthy (scheduler/drain.ts).
 */
export async function drainNode(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireAdmin(user, 'draining nodes');
  const node = await findNode(deps, request.params.node!);
  const db = deps.db();
  await db.query('UPDATE nodes SET draining_since = coalesce(draining_since, now()) WHERE id = $1', [node.id]);
  await db.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'node.drain', $2)`, [user.id, JSON.stringify({ nodeId: node.id })]);
  // The sweep finds every project with tasks on a draining node.
  await evaluateFor(deps, { sweep: true });
  return json(await findNode(deps, node.id));
}

async function findNode(deps: Deps, ref: string): Promise<NodeView> {
  const found = await loadNodes(deps.db(), 'n.id = $1 OR n.name = $1', [ref]);
  if (found.length > 1) {
    throw new HttpError(409, 'ambiguous_node', `${found.length} nodes are named ${ref}; use an id: ${found.map((n) => n.id).join(', ')}`);
  }
  if (!found[0]) throw new HttpError(404, 'node_not_found', `no node with id or name ${ref}`);
  return found[0];
}
