/**
 * `npm start` prints its banner only once the apps it says are running answer: after a restart the
 * agent starts every live deployment's tasks again, and until they are healthy the proxy answers 503.
 */
import { request } from 'undici';
import type { ApiClient } from '../cli/api-client.js';
import { ApiError } from '../cli/errors.js';
import type { Project, ProjectDetail } from '../protocol/index.js';
import { sleep } from './processes.js';

const POLL_MS = 250;
/** Answers that mean the proxy has no working task to send the request to (an app's own 404 is an answer). */
const NOT_SERVING = new Set([502, 503, 504]);
/** The proxy's 404 for a host it has no route for yet (node-proxy/forward.ts): a restarted proxy loads its routes first. */
const UNKNOWN_HOST = /"code":"unknown_host"/;

/** The projects that have a live deployment, by host name. */
export async function liveApps(client: ApiClient, appsDomain: string): Promise<{ project: string; host: string }[]> {
  const { projects } = await client.get<{ projects: Project[] }>('/api/v1/projects');
  return projects.filter((p) => p.liveDeploymentId).map((p) => ({ project: p.name, host: `${p.name}.${appsDomain}` }));
}

/** Whether a project has a live deployment (a second `npm start` leaves it alone). */
export async function isLive(client: ApiClient, project: string): Promise<boolean> {
  try {
    return (await client.get<ProjectDetail>(`/api/v1/projects/${encodeURIComponent(project)}`)).liveDeployment !== null;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'project_not_found') return false; // the first start
    throw err;
  }
}

/** Polls each host through the proxy until it is served or `timeoutMs` passed; returns the hosts still not served. */
export async function waitUntilServed(proxyUrl: string, hosts: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let waiting = hosts;
  while (waiting.length && Date.now() < deadline) {
    const served = await Promise.all(waiting.map((host) => answers(proxyUrl, host)));
    waiting = waiting.filter((_, i) => !served[i]);
    if (waiting.length) await sleep(POLL_MS);
  }
  return waiting;
}

async function answers(proxyUrl: string, host: string): Promise<boolean> {
  try {
    const res = await request(`${proxyUrl}/`, { headers: { host }, headersTimeout: 5_000, bodyTimeout: 5_000 });
    const body = await res.body.text();
    return !NOT_SERVING.has(res.statusCode) && !(res.statusCode === 404 && UNKNOWN_HOST.test(body));
  } catch {
    return false;
  }
}
