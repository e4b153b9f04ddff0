import type { Pool } from '@neondatabase/serverless';
import type { CustomRouteRow, DeploymentRow, ProjectRow, TaskRow } from './route-table.js';

const HEALTHY_TASKS = `
  SELECT p.slug, p.live_deployment_id, t.deployment_id, n.address, t.port
  FROM tasks t
  JOIN deployments d ON d.id = t.deployment_id
  JOIN projects p ON p.id = d.project_id
  JOIN nodes n ON n.id = t.node_id
  WHERE t.desired_state = 'running' AND t.observed_state = 'healthy' AND n.status = 'ready'
    AND t.retire_epoch IS NULL AND d.status <> 'superseded'
  ORDER BY t.id`;
const PROJECTS = 'SELECT slug, live_deployment_id FROM projects';
const DEPLOYMENTS = 'SELECT d.id, p.slug FROM deployments d JOIN projects p ON p.id = d.project_id';
const CUSTOM_ROUTES = `
  SELECT r.host, r.path_prefix, p.live_deployment_id
  FROM routes r JOIN projects p ON p.id = r.project_id`;
export const EPOCH = 'SELECT epoch FROM route_epoch';

/** Everything a route table is built from (and what the proxy saves to disk: route-snapshot.ts). */
export interface RouteRows {
  epoch: number;
  tasks: TaskRow[];
  projects: ProjectRow[];
  deployments: DeploymentRow[];
  customRoutes: CustomRouteRow[];
}

/**
 * Reads the whole routing state from one snapshot, so the table and its epoch agree: one
 * multi-statement simple query, so a reload costs one round trip to the database.
 */
export async function loadRouteRows(pool: Pool): Promise<RouteRows> {
  const client = await pool.connect();
  let results: { rows: unknown[] }[];
  try {
    results = (await client.query(
      ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', EPOCH, HEALTHY_TASKS, PROJECTS, DEPLOYMENTS, CUSTOM_ROUTES, 'COMMIT'].join(';\n'),
    )) as unknown as { rows: unknown[] }[];
    client.release();
  } catch (err) {
    // A failure may leave the transaction open: destroy the connection rather than pool it.
    client.release(err as Error);
    throw err;
  }
  const [, epoch, tasks, projects, deployments, customRoutes] = results.map((r) => r.rows);
  return {
    epoch: Number((epoch![0] as { epoch: string } | undefined)?.epoch ?? 0),
    tasks: tasks as TaskRow[],
    projects: projects as ProjectRow[],
    deployments: deployments as DeploymentRow[],
    customRoutes: customRoutes as CustomRouteRow[],
  };
}

export async function readEpoch(pool: Pool): Promise<number> {
  const result = await pool.query<{ epoch: string }>(EPOCH);
  return Number(result.rows[0]?.epoch ?? 0);
}
