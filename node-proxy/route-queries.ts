import type { Pool } from '@neondatabase/serverless';
import type { CustomRouteRow, DeploymentRow, ProjectRow, TaskRow } from './route-table.js';

// Only the `routing` views (migration 010): a proxy's database role may read nothing else.
const ROUTABLE_TASKS = 'SELECT slug, live_deployment_id, deployment_id, address, port FROM routing.routable_tasks ORDER BY id';
const PROJECTS = 'SELECT slug, live_deployment_id FROM routing.projects';
const DEPLOYMENTS = 'SELECT id, slug FROM routing.deployments';
const CUSTOM_ROUTES = 'SELECT host, path_prefix, live_deployment_id FROM routing.custom_routes';
export const EPOCH = 'SELECT epoch FROM routing.epoch';

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
      ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', EPOCH, ROUTABLE_TASKS, PROJECTS, DEPLOYMENTS, CUSTOM_ROUTES, 'COMMIT'].join(';\n'),
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
