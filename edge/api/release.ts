import { newId, type Resources } from '../../protocol/index.js';
import type { User } from '../auth.js';
import { decrypt, encrypt } from '../../protocol/crypto.js';
import type { Deps } from '../deps.js';
import { evaluateFor } from '../scheduler/evaluate.js';

/** A stored release, as rollback and env changes copy it. */
export interface ReleaseRow {
  id: string;
  project_id: string;
  artifact_digest: string;
  command: string;
  env_enc: string;
  replicas: number;
  health_check: unknown;
  resources: Resources;
  kill_timeout_ms: number;
  restart_policy: string;
}

export async function loadRelease(deps: Deps, id: string): Promise<ReleaseRow | null> {
  const { rows } = await deps.db().query(
    `SELECT id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, kill_timeout_ms, restart_policy
     FROM deployments WHERE id = $1`,
    [id],
  );
  return (rows[0] as ReleaseRow | undefined) ?? null;
}

export interface ReleaseChange {
  /** Applied to the source's decrypted env snapshot. */
  env?: (env: Record<string, string>) => Record<string, string>;
  replicas?: number;
  resources?: Resources;
  deadlineSeconds?: number;
  /** Why this release exists, for the audit trail: `rollback`, `env.set`, `env.unset`, `scale`. */
  reason: string;
}

/**
 * Creates a new deployment copying `source` (artifact, command, env snapshot, health check,
 * resources, restart policy), changed by `change`; it goes through the usual health-gated cutover. Returns its id.
 */
export async function createRelease(deps: Deps, user: User, source: ReleaseRow, change: ReleaseChange): Promise<string> {
  const key = deps.env.ENV_ENCRYPTION_KEY;
  const envEnc = change.env
    ? await encrypt(key, JSON.stringify(change.env(JSON.parse(await decrypt(key, source.env_enc)) as Record<string, string>)))
    : source.env_enc;
  const id = newId('d');
  const db = deps.db();
  await db.query(
    `INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources,
                              kill_timeout_ms, status, created_by, deadline_at, restart_policy)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, now() + make_interval(secs => $11), $12)`,
    [id, source.project_id, source.artifact_digest, source.command, envEnc, change.replicas ?? source.replicas,
      JSON.stringify(source.health_check), JSON.stringify(change.resources ?? source.resources), source.kill_timeout_ms, user.id,
      change.deadlineSeconds ?? 120, source.restart_policy],
  );
  await db.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'deployment.created', $3)`, [
    user.id, source.project_id, JSON.stringify({ deploymentId: id, artifact: source.artifact_digest, from: source.id, reason: change.reason }),
  ]);
  await evaluateFor(deps, { projects: [source.project_id] });
  return id;
}
