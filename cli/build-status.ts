/** Builds beside deployments in `zectre status` and `zectre deployments list`: a running or failed build has no deployment to show it. */
import type { Deployment } from '../protocol/index.js';
import type { ApiClient } from './api-client.js';
import { isFinished, listBuilds, type Build } from './build-api.js';
import { ApiError } from './errors.js';

/** A project's builds, or none from a server without the builds API (404 route_not_found). */
export async function buildsOf(client: ApiClient, project: string): Promise<Build[]> {
  try {
    return await listBuilds(client, project);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'route_not_found') return [];
    throw err;
  }
}

/**
 * Builds that made no deployment and still matter: queued or running ones, and ones that ended
 * without a deployment after the newest deployment was created (the last deploy attempt failed
 * in its build). Older failures are history: `zectre builds list` shows them.
 */
export function undeployedBuilds(builds: Build[], deployments: Deployment[]): Build[] {
  const newest = Math.max(0, ...deployments.map((d) => Date.parse(d.createdAt)));
  return builds.filter((b) => !b.deploymentId && (!isFinished(b.status) || (b.status !== 'succeeded' && Date.parse(b.createdAt) > newest)));
}

/** deployment id -> the build it was made from. */
export function buildByDeployment(builds: Build[]): Map<string, Build> {
  return new Map(builds.filter((b) => b.deploymentId).map((b) => [b.deploymentId!, b]));
}
