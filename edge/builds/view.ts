/** Build rows as the API shows them. */
import type { Build } from '../../protocol/index.js';
import type { Deps } from '../deps.js';
import { iso } from '../http.js';


export async function loadBuilds(deps: Deps, where: string, params: unknown[], limit = 50): Promise<Build[]> {
  const { rows } = await deps.db().query(
    `SELECT b.*, p.slug, n.name AS node_name FROM builds b JOIN projects p ON p.id = b.project_id
     LEFT JOIN nodes n ON n.id = b.node_id WHERE ${where} ORDER BY b.created_at DESC, b.id LIMIT ${limit}`,
    params,
  );
  return rows.map((b) => ({
    id: b.id,
    project: b.slug,
    status: b.status,
    step: b.step,
    node: b.node_name ?? null,
    sourceDigest: b.source_digest,
    artifactDigest: b.artifact_digest,
    cacheKey: b.cache_key,
    cache: b.cache,
    deploymentId: b.deployment_id,
    error: b.error,
    createdAt: iso(b.created_at)!,
    startedAt: iso(b.started_at),
    finishedAt: iso(b.finished_at),
    plan: b.plan ?? null,
  }));
}

export async function loadBuild(deps: Deps, id: string): Promise<Build | null> {
  return (await loadBuilds(deps, 'b.id = $1', [id]))[0] ?? null;
}
