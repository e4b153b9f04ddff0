/**
 * Builds whose builder is gone: the node is down (lost: silent for three heartbeat intervals) or the
 * builder stopped reporting (a build reports at least every few seconds, see node-agent/build/reporter.ts).
 * Such a build is failed with an error that says so; the user runs it again. Called from the build
 * routes (a read of a build, a claim), so no timer is needed and the cost is one indexed UPDATE.
 */
import type { Db } from '../db.js';

/** A running build silent this long lost its builder. */
export const BUILD_LEASE_SECONDS = 60;

export async function reapLostBuilds(db: Db, where = 'TRUE', params: unknown[] = []): Promise<void> {
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
