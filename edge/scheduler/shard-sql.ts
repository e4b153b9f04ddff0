import { bumpRouteEpoch, transaction, type Db } from '../db.js';
import type { NodeEntry } from './node-table.js';

/** A node as a shard loads it. */
export interface NodeRow {
  id: string;
  credentialHash: string;
  generation: number;
  status: 'ready' | 'down';
}

const NODE_COLUMNS = 'id, credential_hash, generation, status';
const rowOf = (r: Record<string, any>): NodeRow => ({ id: r.id, credentialHash: r.credential_hash, generation: Number(r.generation), status: r.status });

/** Every node of a shard: one indexed query when a shard starts cold. */
export async function loadShard(db: Db, shard: number): Promise<NodeRow[]> {
  const { rows } = await db.query(`SELECT ${NODE_COLUMNS} FROM nodes WHERE shard = $1`, [shard]);
  return rows.map(rowOf);
}

export async function loadNode(db: Db, id: string): Promise<NodeRow | null> {
  const { rows } = await db.query(`SELECT ${NODE_COLUMNS} FROM nodes WHERE id = $1`, [id]);
  return rows[0] ? rowOf(rows[0]) : null;
}

/**
 * The periodic write of what steady heartbeats only told the shard's memory: last heartbeat times
 * and task CPU/RSS (one statement each for the whole shard), and the read of the shard's
 * generations, a backstop for a scheduler notice that did not arrive. Returns id -> generation.
 */
export async function flushShard(db: Db, shard: number, nodes: NodeEntry[]): Promise<Map<string, number>> {
  const seen = nodes.filter((n) => n.lastSeen > n.flushedSeen).map((n) => ({ node: n, at: n.lastSeen }));
  // Taken now: a heartbeat arriving while this writes leaves figures for the next flush.
  const metrics = nodes.flatMap((n) => (n.metrics ?? []).map((t) => ({ node: n.id, ...t })));
  for (const n of nodes) n.metrics = null;
  if (seen.length) {
    await db.query(
      `UPDATE nodes n SET last_heartbeat_at = u.seen FROM unnest($1::text[], $2::timestamptz[]) AS u(id, seen) WHERE n.id = u.id`,
      [seen.map((s) => s.node.id), seen.map((s) => new Date(s.at).toISOString())],
    );
  }
  if (metrics.length) {
    await db.query(
      `UPDATE tasks t SET cpu_millis = u.cpu, rss_bytes = u.rss
       FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) AS u(id, node, cpu, rss) WHERE t.id = u.id AND t.node_id = u.node`,
      [metrics.map((t) => t.id), metrics.map((t) => t.node), metrics.map((t) => t.cpuMillis ?? null), metrics.map((t) => t.rssBytes ?? null)],
    );
  }
  for (const s of seen) s.node.flushedSeen = Math.max(s.node.flushedSeen, s.at);
  const { rows } = await db.query('SELECT id, generation FROM nodes WHERE shard = $1', [shard]);
  return new Map(rows.map((r) => [r.id as string, Number(r.generation)]));
}

/**
 * Declares nodes lost: down (the route query skips their tasks at once; the reconciler replaces
 * them), a route epoch, an event each. Returns the projects with tasks on them, to evaluate.
 * A node whose row another transaction holds (its own heartbeat being written, a scheduler pass)
 * is skipped, not waited for: heartbeats that arrived during such a wait (up to 30 s at 1,000 nodes
 * in bench:fleet) did not stop the node being declared lost, and a live node flapped. The shard
 * looks at a skipped node again on its next alarm.
 */
export async function markLost(db: Db, lost: NodeEntry[], now: number): Promise<{ down: string[]; projects: string[] }> {
  return transaction(db, async (tx) => {
    const { rows } = await tx.query(
      `UPDATE nodes SET status = 'down' WHERE id IN (
         SELECT id FROM nodes WHERE id = ANY($1) AND status = 'ready' ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING id`,
      [lost.map((n) => n.id)],
    );
    const down = rows.map((r) => r.id as string);
    if (!down.length) return { down, projects: [] };
    await bumpRouteEpoch(tx);
    const silent = new Map(lost.map((n) => [n.id, n.lastSeen ? now - n.lastSeen : null]));
    await tx.query(`INSERT INTO events (kind, data) SELECT 'node.lost', d FROM unnest($1::jsonb[]) AS d`, [
      down.map((id) => JSON.stringify({ nodeId: id, silentMs: silent.get(id) })),
    ]);
    const projects = await tx.query(
      `SELECT DISTINCT d.project_id FROM tasks t JOIN deployments d ON d.id = t.deployment_id
       WHERE t.node_id = ANY($1) AND t.desired_state = 'running' ORDER BY 1`,
      [down],
    );
    return { down, projects: projects.rows.map((r) => r.project_id as string) };
  });
}
