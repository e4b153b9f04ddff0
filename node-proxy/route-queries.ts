import type { Pool } from '@neondatabase/serverless';
import { buildRouteTable, type CustomRouteRow, type DeploymentRow, type ProjectRow, type RouteTable, type TaskRow } from './route-table.js';

const HEALTHY_TASKS = `
  SELECT p.slug, p.live_deployment_id, t.deployment_id, n.address, t.port
  FROM tasks t
  JOIN deployments d ON d.id = t.deployment_id
  JOIN projects p ON p.id = d.project_id
  JOIN nodes n ON n.id = t.node_id
  WHERE t.desired_state = 'running' AND t.observed_state = 'healthy' AND n.status = 'ready'
    AND d.status <> 'superseded'
  ORDER BY t.id`;
const PROJECTS = 'SELECT slug, live_deployment_id FROM projects';
const DEPLOYMENTS = 'SELECT d.id, p.slug FROM deployments d JOIN projects p ON p.id = d.project_id';
const CUSTOM_ROUTES = `
  SELECT r.host, r.path_prefix, p.live_deployment_id
  FROM routes r JOIN projects p ON p.id = r.project_id`;
export const EPOCH = 'SELECT epoch FROM route_epoch';

/** Reads the whole routing state from one snapshot, so the table and its epoch agree. */
export async function loadRouteTable(pool: Pool, appsDomain: string): Promise<RouteTable> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const epoch = await client.query<{ epoch: string }>(EPOCH);
      const tasks = await client.query<TaskRow>(HEALTHY_TASKS);
      const projects = await client.query<ProjectRow>(PROJECTS);
      const deployments = await client.query<DeploymentRow>(DEPLOYMENTS);
      const customRoutes = await client.query<CustomRouteRow>(CUSTOM_ROUTES);
      return buildRouteTable({
        epoch: Number(epoch.rows[0]?.epoch ?? 0),
        appsDomain,
        tasks: tasks.rows,
        projects: projects.rows,
        deployments: deployments.rows,
        customRoutes: customRoutes.rows,
      });
    } finally {
      await client.query('COMMIT');
    }
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    // Passing the error destroys a possibly broken connection instead of pooling it.
    client.release(failure);
  }
}

export async function readEpoch(pool: Pool): Promise<number> {
  const result = await pool.query<{ epoch: string }>(EPOCH);
  return Number(result.rows[0]?.epoch ?? 0);
}
