import type { Deployment, TaskView } from '../../protocol/index.js';
import type { Deps } from '../deps.js';
import { laggingProxies } from '../scheduler/retire.js';
import { appUrl, previewUrl } from '../urls.js';
import { iso } from '../http.js';


/** Reads deployments with their tasks (newest first); `where` filters `d`. */
export async function loadDeployments(deps: Deps, where: string, params: unknown[], limit = 50): Promise<Deployment[]> {
  const db = deps.db();
  const { rows } = await db.query(
    `SELECT d.*, p.slug, u.name AS created_by_name,
            CASE WHEN d.live_epoch IS NULL THEN NULL ELSE ${laggingProxies('d.live_epoch')} END AS lagging
     FROM deployments d JOIN projects p ON p.id = d.project_id
     LEFT JOIN users u ON u.id = d.created_by WHERE ${where} ORDER BY d.created_at DESC, d.id LIMIT ${limit}`,
    params,
  );
  if (!rows.length) return [];
  const tasks = await db.query(
    `SELECT t.*, n.name AS node_name FROM tasks t JOIN nodes n ON n.id = t.node_id
     WHERE t.deployment_id = ANY($1) ORDER BY t.created_at, t.id`,
    [rows.map((r) => r.id)],
  );
  const byDeployment = new Map<string, TaskView[]>();
  for (const t of tasks.rows) {
    const list = byDeployment.get(t.deployment_id) ?? [];
    list.push({
      id: t.id,
      nodeId: t.node_id,
      nodeName: t.node_name,
      port: t.port,
      desiredState: t.desired_state,
      observedState: t.observed_state,
      restarts: t.restarts,
      exitCode: t.exit_code,
      message: t.message,
      updatedAt: iso(t.updated_at)!,
      retiring: t.retire_epoch !== null && t.desired_state === 'running',
    });
    byDeployment.set(t.deployment_id, list);
  }
  return rows.map((d) => ({
    id: d.id,
    project: d.slug,
    status: d.status,
    statusReason: d.status_reason,
    artifact: d.artifact_digest,
    command: d.command,
    replicas: d.replicas,
    createdAt: iso(d.created_at)!,
    deadlineAt: iso(d.deadline_at)!,
    liveAt: iso(d.live_at),
    createdBy: d.created_by_name ?? null,
    urls: { app: appUrl(deps.env, d.slug), preview: previewUrl(deps.env, d.id, d.slug) },
    tasks: byDeployment.get(d.id) ?? [],
    routing: d.live_epoch === null ? null : { epoch: Number(d.live_epoch), waitingFor: (d.lagging as { id: string }[]).map((p) => p.id) },
  }));
}

export async function loadDeployment(deps: Deps, id: string): Promise<Deployment | null> {
  return (await loadDeployments(deps, 'd.id = $1', [id]))[0] ?? null;
}
