/**
 * The bench's own connection to PostgreSQL (not through the Worker's bridge, so it counts neither as
 * a round trip nor as the Worker's CPU): it polls the number of connections to the bench database
 * every 500 ms and answers the bench's questions about state (all live yet? replaced yet?).
 */
import type { Client } from '@neondatabase/serverless';
import { createClient, type DbOptions } from '../sql/connect.js';

const POLL_MS = 500;

export class Monitor {
  private timer: NodeJS.Timeout | undefined;
  private peak = 0;
  /** Peak over the monitor's whole life. */
  overallPeak = 0;
  /** The server's max_connections (the bench's own connection is one of them). */
  maxConnections = NaN;
  /** The server process of the bench's connection, whose CPU is the bench's, not the Worker's. */
  backendPid = 0;
  private polling: Promise<void> = Promise.resolve();

  private constructor(private readonly client: Client) {}

  static async open(db: DbOptions): Promise<Monitor> {
    const client = createClient(db);
    await client.connect();
    const monitor = new Monitor(client);
    const { rows } = await client.query(`SELECT current_setting('max_connections')::int AS n, pg_backend_pid() AS pid`);
    monitor.maxConnections = rows[0].n;
    monitor.backendPid = rows[0].pid;
    let busy = false;
    monitor.timer = setInterval(() => {
      if (busy) return; // a slow server must not pile polls up behind one another
      busy = true;
      monitor.polling = monitor.pollConnections().finally(() => (busy = false));
    }, POLL_MS);
    return monitor;
  }

  /** Peak number of connections to the database (the bench's own excluded) since the last call. */
  takePeak(): number {
    const peak = this.peak;
    this.peak = 0;
    return peak;
  }

  private async pollConnections(): Promise<void> {
    const { rows } = await this.client
      .query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
      .catch(() => ({ rows: [] as { n: number }[] }));
    if (!rows[0]) return;
    this.peak = Math.max(this.peak, rows[0].n);
    this.overallPeak = Math.max(this.overallPeak, rows[0].n);
  }

  /** How many deployments are live, failed, or still on their way. */
  async deploymentStates(ids?: string[]): Promise<{ live: number; failed: number; other: number }> {
    const { rows } = await this.client.query(
      `SELECT count(*) FILTER (WHERE status = 'live')::int AS live, count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status NOT IN ('live', 'failed'))::int AS other
       FROM deployments WHERE $1::text[] IS NULL OR id = ANY($1)`,
      [ids ?? null],
    );
    return rows[0];
  }

  /** A node with the most tasks desired running on it, and the live deployments of those tasks. */
  async busiestNode(): Promise<{ nodeId: string; tasks: number; deployments: string[] } | undefined> {
    const { rows } = await this.client.query(
      `SELECT t.node_id, count(*)::int AS tasks, array_agg(DISTINCT t.deployment_id) AS deployments
       FROM tasks t JOIN deployments d ON d.id = t.deployment_id
       WHERE t.desired_state = 'running' AND d.status = 'live' GROUP BY t.node_id ORDER BY tasks DESC, t.node_id LIMIT 1`,
    );
    return rows[0] ? { nodeId: rows[0].node_id, tasks: rows[0].tasks, deployments: rows[0].deployments } : undefined;
  }

  async nodeStatus(nodeId: string): Promise<string> {
    const { rows } = await this.client.query('SELECT status FROM nodes WHERE id = $1', [nodeId]);
    return rows[0]?.status ?? 'unknown';
  }

  /** Deployments (of these) that do not yet have their replica count healthy on nodes other than `nodeId`. */
  async shortOfReplicas(deploymentIds: string[], nodeId: string): Promise<number> {
    const { rows } = await this.client.query(
      `SELECT count(*)::int AS n FROM deployments d
       WHERE d.id = ANY($1) AND d.replicas > (
         SELECT count(*) FROM tasks t WHERE t.deployment_id = d.id AND t.node_id <> $2 AND t.desired_state = 'running'
           AND t.observed_state = 'healthy' AND t.retire_epoch IS NULL)`,
      [deploymentIds, nodeId],
    );
    return rows[0].n;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await this.client.end().catch(() => undefined);
  }
}
