import { z } from 'zod';
import { text } from './fields.js';
import { SLUG_PATTERN } from './ids.js';
import { MAX_REPLICAS } from './limits.js';
import { HealthCheck, ObservedState, Resources, RestartPolicy } from './tasks.js';

export { MAX_REPLICAS };

export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const ENV_KEY_MESSAGE = 'env var names are letters, digits and _, not starting with a digit';

export const CreateProject = z.object({
  name: z.string().regex(SLUG_PATTERN, 'lowercase letters, digits and single dashes, 1-40 characters'),
});
export type CreateProject = z.infer<typeof CreateProject>;

export interface Project {
  id: string;
  name: string;
  liveDeploymentId: string | null;
  createdAt: string;
  urls: { app: string };
}

/** GET /api/v1/projects/:project: the project, its live deployment, and limits a client checks before it uploads. */
export interface ProjectDetail extends Project {
  liveDeployment: Deployment | null;
  limits: { artifactBytes: number };
}

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export interface Artifact {
  digest: string;
  size: number;
}

export const CreateDeployment = z.object({
  artifact: z.string().regex(DIGEST_PATTERN, 'expected sha256:<64 hex digits>'),
  command: text(4_096, 1),
  /** Merged over the project's env vars; the agent also sets PORT to the port the scheduler assigned. */
  env: z.record(z.string().regex(ENV_KEY, ENV_KEY_MESSAGE), text(65_536)).default({}),
  replicas: z.number().int().min(1).max(MAX_REPLICAS).default(1),
  healthCheck: HealthCheck.default({ path: '/', intervalMs: 2_000, timeoutMs: 2_000, graceMs: 0 }),
  resources: Resources.default({ cpuMillis: 100, memoryMb: 128 }),
  /** When the agent restarts an exited task: always, on-failure (non-zero exit or signal), never. */
  restartPolicy: RestartPolicy.default('always'),
  /** How long the deployment may take to become healthy before it is marked failed. */
  deadlineSeconds: z.number().int().min(5).max(3_600).default(120),
});
export type CreateDeployment = z.input<typeof CreateDeployment>;

export type DeploymentStatus = 'pending' | 'deploying' | 'live' | 'standby' | 'superseded' | 'failed';

export interface TaskView {
  id: string;
  nodeId: string;
  nodeName: string;
  port: number;
  desiredState: 'running' | 'stopped';
  observedState: ObservedState | 'lost' | 'stopped';
  restarts: number;
  exitCode: number | null;
  message: string | null;
  updatedAt: string;
  /** Out of routing already; stops once every live proxy serves the routes without it (scale-down, drain). */
  retiring: boolean;
}

export interface Deployment {
  id: string;
  project: string;
  status: DeploymentStatus;
  statusReason: string | null;
  artifact: string;
  command: string;
  replicas: number;
  createdAt: string;
  deadlineAt: string;
  liveAt: string | null;
  /** Name of the user who deployed it (null if that user was deleted). */
  createdBy: string | null;
  urls: { app: string; preview: string };
  tasks: TaskView[];
  /**
   * Since its cutover: the route epoch that made it live, and the live proxies not serving that
   * epoch yet (empty: every proxy routes to it). Null if it never went live.
   */
  routing: { epoch: number; waitingFor: string[] } | null;
}

export const SetEnv = z.object({
  vars: z.record(z.string().regex(ENV_KEY, ENV_KEY_MESSAGE), text(65_536)),
});
export type SetEnv = z.infer<typeof SetEnv>;

export interface EnvVar {
  key: string;
  /** Only present when the owner asked with ?reveal=true. */
  value?: string;
  updatedAt: string;
}

/** GET /api/v1/whoami */
export interface Whoami {
  user: { id: string; name: string; isAdmin: boolean };
}

