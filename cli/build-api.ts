/**
 * The builds API as the CLI uses it (notes/contracts-13.md): types of its answers and one function
 * per call. The plan is shown as the server sends it, so a field the builder adds later shows too.
 */
import type { ApiClient } from './api-client.js';
import type { BuildConfig } from './build-plan.js';

export type BuildStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'timed_out';

export interface Build {
  id: string;
  project: string;
  status: BuildStatus;
  /** 'install', 'build', 'prune', 'pack', 'upload'…; null before it starts. */
  step: string | null;
  node: string | null;
  sourceDigest: string;
  artifactDigest: string | null;
  cacheKey: string | null;
  cache: 'hit' | 'miss' | null;
  deploymentId: string | null;
  /** Names the failing step and carries its last lines. */
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  plan: Record<string, unknown> | null;
}

export interface BuildLogLine {
  seq: number;
  at: string;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

export interface BuildLogPage {
  lines: BuildLogLine[];
  /** The build has ended and every line has been returned. */
  done: boolean;
}

export interface CreateBuild {
  sourceDigest: string;
  deploy?: boolean;
  config?: BuildConfig;
}

/** The longest long-poll the server holds a logs request (seconds). */
export const LOGS_WAIT_SECONDS = 25;

export function isFinished(status: BuildStatus): boolean {
  return status !== 'queued' && status !== 'running';
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
