import { z } from 'zod';
import { int4, line, reported } from './fields.js';

/** Health check an agent runs against a task: GET http://127.0.0.1:{port}{path} answering 2xx/3xx. */
export const HealthCheck = z.object({
  path: line(512).startsWith('/').default('/'),
  intervalMs: z.number().int().min(100).max(300_000).default(2_000),
  timeoutMs: z.number().int().min(50).max(60_000).default(2_000),
  graceMs: z.number().int().min(0).max(600_000).default(0),
});
export type HealthCheck = z.infer<typeof HealthCheck>;

export const Resources = z.object({
  cpuMillis: z.number().int().min(1).max(256_000).default(100),
  memoryMb: z.number().int().min(16).max(1_048_576).default(128),
});
export type Resources = z.infer<typeof Resources>;

export const RestartPolicy = z.enum(['always', 'on-failure', 'never']);
export type RestartPolicy = z.infer<typeof RestartPolicy>;

/** Everything an agent needs to run one task; sent in desired-state documents. */
export const TaskSpec = z.object({
  id: z.string(),
  deploymentId: z.string(),
  project: z.string(),
  /** The project's id: a project deleted and created again under the same name is another tenant. */
  projectId: z.string().optional(),
  artifact: z.object({ digest: z.string(), url: z.string() }),
  command: z.string().min(1),
  env: z.record(z.string(), z.string()),
  port: z.number().int().min(1).max(65535),
  healthCheck: HealthCheck,
  resources: Resources,
  killTimeoutMs: z.number().int().min(0).max(600_000),
  /** always: restart whenever it exits; on-failure: only after a non-zero exit or a signal; never. */
  restartPolicy: RestartPolicy.default('always'),
  /**
   * Env keys whose values are secrets: the agent redacts them from the task's logs. Absent means
   * every key of `env` is secret (env vars set with `zectre env set` are secrets by default).
   */
  secretEnv: z.array(z.string()).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

/** What the agent sees of a task. `healthy` means the process runs and its health check passes. */
export const ObservedState = z.enum(['pending', 'starting', 'healthy', 'unhealthy', 'exited', 'failed']);
export type ObservedState = z.infer<typeof ObservedState>;

export const ObservedTask = z.object({
  id: line(64),
  state: ObservedState,
  pid: z.number().int().optional(),
  exitCode: int4().nullable().optional(),
  restarts: int4(0).default(0),
  /** The agent may cut it inside a surrogate pair, and an app controls part of it: cleaned, not refused. */
  message: reported(2_000).optional(),
  /**
   * Why the task failed, for the scheduler to act on (`message` is for people). `port_in_use`: its port
   * is held by a process that is not the task's; the scheduler replaces it on another port.
   */
  code: line(64).optional(),
  /** CPU used since the previous heartbeat, in millicores (1000 = one core), summed over the task's process group. */
  cpuMillis: int4(0).optional(),
  /** Resident memory of the task's process group. */
  rssBytes: z.number().int().min(0).optional(),
});
export type ObservedTask = z.infer<typeof ObservedTask>;

/** ObservedTask.code of a task whose port another process holds (the agent gave up waiting for it). */
export const PORT_IN_USE = 'port_in_use';
