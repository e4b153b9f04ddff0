import type { DesiredState, TaskSpec } from '../../protocol/index.js';
import { decrypt } from '../../protocol/crypto.js';
import type { Db, Tx } from '../db.js';
import type { Env } from '../env.js';

/**
 * The full desired-state document of one node at its current generation. Artifact URLs are
 * relative: the agent resolves them against the API URL it registered with and sends its node
 * credential only there, so no request (nor its Host header) can steer that credential elsewhere.
 */
export async function desiredState(db: Db | Tx, env: Env, nodeId: string): Promise<DesiredState> {
  const node = await db.query('SELECT generation FROM nodes WHERE id = $1', [nodeId]);
  const { rows } = await db.query(
    `SELECT t.id, t.port, d.id AS deployment_id, p.slug, p.id AS project_id, d.artifact_digest, d.command, d.env_enc,
            d.health_check, d.resources, d.kill_timeout_ms, d.restart_policy
     FROM tasks t JOIN deployments d ON d.id = t.deployment_id JOIN projects p ON p.id = d.project_id
     WHERE t.node_id = $1 AND t.desired_state = 'running' ORDER BY t.id`,
    [nodeId],
  );
  const envByDeployment = new Map<string, Promise<Record<string, string>>>();
  const tasks: TaskSpec[] = [];
  for (const r of rows) {
    if (!envByDeployment.has(r.deployment_id)) {
      envByDeployment.set(r.deployment_id, decrypt(env.ENV_ENCRYPTION_KEY, r.env_enc).then(JSON.parse));
    }
    tasks.push({
      id: r.id,
      deploymentId: r.deployment_id,
      project: r.slug,
      projectId: r.project_id,
      artifact: { digest: r.artifact_digest, url: `/registry/v1/blobs/${r.artifact_digest}` },
      command: r.command,
      env: await envByDeployment.get(r.deployment_id)!,
      port: r.port,
      healthCheck: r.health_check,
      resources: r.resources,
      killTimeoutMs: r.kill_timeout_ms,
      restartPolicy: r.restart_policy,
    });
  }
  return { nodeId, generation: Number(node.rows[0]?.generation ?? 0), tasks };
}
