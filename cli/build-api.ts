/**
 * The builds API as the CLI uses it (protocol/builds.ts): one function per call.
 */
import { BUILD_ENDED, type Build, type BuildLogLine, type BuildLogPage, type BuildStatus, type CreateBuild } from '../protocol/index.js';
import type { ApiClient } from './api-client.js';

export type { Build, BuildLogLine, BuildLogPage, BuildStatus, CreateBuild };

/** The longest long-poll the server holds a logs request (seconds). */
export const LOGS_WAIT_SECONDS = 25;

export function isFinished(status: BuildStatus): boolean {
  return BUILD_ENDED.includes(status);
}

const projectPath = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}/builds`;
const buildPath = (id: string) => `/api/v1/builds/${encodeURIComponent(id)}`;

export async function createBuild(client: ApiClient, project: string, body: CreateBuild): Promise<Build> {
  return (await client.post<{ build: Build }>(projectPath(project), body)).build;
}

export async function listBuilds(client: ApiClient, project: string): Promise<Build[]> {
  return (await client.get<{ builds: Build[] }>(projectPath(project))).builds;
}

export async function getBuild(client: ApiClient, id: string, signal?: AbortSignal): Promise<Build> {
  return (await client.get<{ build: Build }>(buildPath(id), signal ? { signal } : {})).build;
}

export async function cancelBuild(client: ApiClient, id: string): Promise<Build> {
  return (await client.post<{ build: Build }>(`${buildPath(id)}/cancel`, {})).build;
}

/** Lines after `after`; with `wait`, held by the server until one exists or the build ends. */
export function buildLogs(client: ApiClient, id: string, after: number, wait: number, signal?: AbortSignal): Promise<BuildLogPage> {
  const query = new URLSearchParams({ after: String(after), wait: String(wait) });
  // The server holds the request up to `wait` seconds: the client must wait longer than that.
  return client.get<BuildLogPage>(`${buildPath(id)}/logs?${query}`, { timeoutMs: (wait + 15) * 1000, ...(signal ? { signal } : {}) });
}
