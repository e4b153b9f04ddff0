import { z } from 'zod';
import { httpUrl, int4, line, text } from './fields.js';
import { ObservedTask, TaskSpec } from './tasks.js';

/** POST /scheduler/v1/nodes/register (Authorization: Bearer <join token>). */
export const RegisterRequest = z.object({
  name: line(128),
  /** Address the proxy uses to reach this node's tasks (`{address}:{task.port}`). */
  address: line(255),
  /** Where the scheduler POSTs desired state; omit when the node is unreachable (poll only). */
  pushUrl: httpUrl().optional(),
  labels: z
    .record(line(128), text(1_024))
    .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels')
    .default({}),
  capacity: z.object({
    cpuMillis: int4(1),
    memoryMb: int4(1),
  }),
  portRange: z.tuple([z.number().int().min(1024).max(65535), z.number().int().min(1024).max(65535)]).default([20000, 29999]),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export interface RegisterResponse {
  nodeId: string;
  /** Secret for heartbeats, log shipping and registry downloads; the server keeps only its hash. */
  credential: string;
  heartbeatIntervalMs: number;
  /** The scheduler's public keys; pushes are JWTs signed with one of them. */
  jwks: { keys: Record<string, unknown>[] };
  /** JWT issuer and audience the agent must check on pushes. */
  issuer: string;
  audience: string;
}

/** The full set of tasks a node should run, at a generation. Level-triggered: the newest wins. */
export const DesiredState = z.object({
  nodeId: z.string(),
  generation: z.number().int().min(0),
  tasks: z.array(TaskSpec),
});
export type DesiredState = z.infer<typeof DesiredState>;

/** At most this many ports held by others per node: a heartbeat's size does not grow with what squats on the node. */
export const MAX_FOREIGN_PORTS = 32;

/** POST /scheduler/v1/nodes/:id/heartbeat (Authorization: Bearer <node credential>). */
export const HeartbeatRequest = z.object({
  appliedGeneration: z.number().int().min(0),
  tasks: z.array(ObservedTask),
  /** The node's current push URL (null: poll only); absent leaves the registered one unchanged. */
  pushUrl: httpUrl().nullable().optional(),
  /**
   * Ports of the node's task range found held by processes that are not the agent's tasks, recently
   * (the agent forgets one after a while): the scheduler assigns none of them. Absent (an older
   * agent) leaves the stored list unchanged.
   */
  foreignPorts: z.array(z.number().int().min(1).max(65535)).max(MAX_FOREIGN_PORTS).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export interface HeartbeatResponse {
  generation: number;
  heartbeatIntervalMs: number;
  /** Present when `generation` differs from the request's `appliedGeneration`. */
  desired?: DesiredState;
}

/** Push: POST {pushUrl} with body `{ token }`; the JWT's `desired` claim is a DesiredState. */
export const PushBody = z.object({ token: z.string().min(1) });
export type PushBody = z.infer<typeof PushBody>;
export const PUSH_JWT_MAX_AGE_S = 60;
