/**
 * Builds whose builder is gone: the node is down (lost: silent for three heartbeat intervals) or the
 * builder stopped reporting (a build reports at least every few seconds, see node-agent/build/reporter.ts).
 * Such a build is failed with an error that says so; the user runs it again. So is a build no builder
 * took within BUILD_QUEUE_TIMEOUT_S (default 10 minutes): none online, or all busy for that long. Called from the build
 * routes (a read of a build, a claim), so no timer is needed and the cost is one indexed UPDATE.
 */
import { BUILDER_LABEL } from '../../protocol/index.js';
import type { Db } from '../db.js';
import type { Deps } from '../deps.js';
import { publicUrl } from '../env.js';

/** A running build silent this long lost its builder. */
export const BUILD_LEASE_SECONDS = 60;

async function reapLostBuilds(db: Db, where = 'TRUE', params: unknown[] = []): Promise<void> {
  await db.query(
    `UPDATE builds b SET status = 'failed', finished_at = now(),
       error = CASE WHEN n.status = 'down' THEN 'builder node ' || n.name || ' was lost during step ' || coalesce(b.step, '?') || '; run the build again'
                    ELSE 'builder node ' || coalesce(n.name, '?') || ' stopped reporting during step ' || coalesce(b.step, '?') || ' (no report for ${BUILD_LEASE_SECONDS} s); run the build again' END
     FROM nodes n
     WHERE n.id = b.node_id AND b.status = 'running' AND (${where})
       AND (n.status = 'down' OR b.lease_at < now() - interval '${BUILD_LEASE_SECONDS} seconds')`,
    params,
  );
}

/** Default wait of a queued build for a builder, seconds. */
export const BUILD_QUEUE_TIMEOUT_S = 600;

export function queueTimeoutSeconds(deps: Deps): number {
  const n = Number(deps.env.BUILD_QUEUE_TIMEOUT_S);
  return Number.isInteger(n) && n > 0 ? n : BUILD_QUEUE_TIMEOUT_S;
}

/** The ready builder nodes (and how many run a build): an indexed-size query, made only when a build is created or reaped. */
export const BUILDERS_ONLINE = `SELECT count(*)::int AS online, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM builds r WHERE r.node_id = n.id AND r.status = 'running'))::int AS busy
  FROM nodes n WHERE n.status = 'ready' AND n.draining_since IS NULL AND n.labels ? '${BUILDER_LABEL}' AND n.labels->>'${BUILDER_LABEL}' <> 'false'`;

/** How a user adds a builder node. */
export function addBuilderHint(deps: Deps): string {
  let origin: string;
  try {
    origin = publicUrl(deps.env);
  } catch {
    origin = '<control plane URL>';
  }
  return `add one with: curl -fsSL ${origin}/install.sh | sh -s -- --join-token <join token> --no-proxy --labels builder (or ZECTRE_AGENT_LABELS=builder for an agent run by hand)`;
}

/**
 * Builds queued longer than the bound are failed, with the reason as their last log line. Like
 * reapLostBuilds: called on a read or a claim, one indexed UPDATE (builds_queued), nothing per heartbeat.
 */
async function reapUnclaimedBuilds(deps: Deps, db: Db, where = 'TRUE', params: unknown[] = []): Promise<void> {
  const seconds = queueTimeoutSeconds(deps);
  const hint = params.length + 1;
  await db.query(
    `WITH builders AS (${BUILDERS_ONLINE}),
     reaped AS (
       UPDATE builds b SET status = 'failed', finished_at = now(), log_seq = b.log_seq + 1,
         error = 'no builder took this build within ${seconds} s (' || (SELECT online FROM builders) || ' builder nodes online, '
                 || (SELECT busy FROM builders) || ' busy); ' || $${hint}::text || ', then run the build again'
       WHERE b.status = 'queued' AND b.created_at < now() - interval '${seconds} seconds' AND (${where})
       RETURNING b.id, b.log_seq, b.error)
     INSERT INTO build_logs (build_id, seq, at, stream, line) SELECT id, log_seq, now(), 'system', error FROM reaped
     ON CONFLICT (build_id, seq) DO NOTHING`,
    [...params, addBuilderHint(deps)],
  );
}

/** Both reaps, where a build is read or claimed: builds of dead builders and builds no builder took in time. */
export async function reapBuilds(deps: Deps, db: Db, where = 'TRUE', params: unknown[] = []): Promise<void> {
  await reapLostBuilds(db, where, params);
  await reapUnclaimedBuilds(deps, db, where, params);
}
