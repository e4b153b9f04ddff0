/** Wire types for operating a cluster: tokens, nodes, drain, rollback, scale, project delete, events. */
import { z } from 'zod';
import { ENV_KEY, MAX_REPLICAS, type Deployment } from './api.js';
import { cursor, line, pageLimit } from './fields.js';
import { SLUG_PATTERN } from './ids.js';
import { Resources } from './tasks.js';

export const CreateApiToken = z.object({
  name: z.string().trim().pipe(line(100)),
  /** Limit the token to one project (by name); omitted = every project the user can reach. */
  project: z.string().regex(SLUG_PATTERN, 'expected a project name').optional(),
});
export type CreateApiToken = z.infer<typeof CreateApiToken>;

export interface ApiTokenView {
  id: string;
  name: string;
  /** Project name the token is limited to, or null for a global token. */
  project: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** The secret appears in this answer only; the server keeps its SHA-256. */
export interface CreatedApiToken {
  token: ApiTokenView;
  secret: string;
}

export const CreateJoinToken = z.object({
  /** Lifetime; default one day. Every join token expires. */
  expiresInSeconds: z.number().int().min(60).max(30 * 24 * 3600).default(24 * 3600),
  /** The token registers one node, then answers 401 like a revoked one. Default: reusable until it expires. */
  singleUse: z.boolean().default(false),
});
export type CreateJoinToken = z.input<typeof CreateJoinToken>;

export interface CreatedJoinToken {
  id: string;
  secret: string;
  expiresAt: string;
  singleUse: boolean;
}

export type NodeStatus = 'ready' | 'draining' | 'down';

export interface NodeView {
  id: string;
  name: string;
  address: string;
  /** `draining` when a drain was asked for and the node is still heartbeating. */
  status: NodeStatus;
  capacity: { cpuMillis: number; memoryMb: number };
  /** Sum of the resources of the tasks desired running on it. */
  allocated: { cpuMillis: number; memoryMb: number };
  runningTasks: number;
  drainingSince: string | null;
  lastHeartbeatAt: string;
}

export const Rollback = z.object({
  /** Deployment id to return to; default: the previous good release. */
  deployment: z.string().regex(/^d[a-z0-9]{12}$/, 'expected a deployment id like d1234abcd5678').optional(),
  deadlineSeconds: z.number().int().min(5).max(3_600).default(120),
});
export type Rollback = z.input<typeof Rollback>;

/**
 * POST /api/v1/projects/:project/rollback: the deployment that serves the project now, when routing
 * switched to a release that still ran (`switched`, 200: no new task), else the new release started
 * from the target (201), which goes live once healthy.
 */
export type RollbackAnswer = Deployment & { switched: boolean };

/** New resources per task; an absent field keeps the live deployment's value (no defaults here). */
const ResourceChange = z.strictObject({
  cpuMillis: Resources.shape.cpuMillis.unwrap().optional(),
  memoryMb: Resources.shape.memoryMb.unwrap().optional(),
});

/**
 * A replica count alone changes the live deployment in place; resources start a new release of it
 * (same artifact, command and env; the count given, else the current one), health-gated like a deploy.
 */
export const Scale = z
  .object({
    replicas: z.number().int().min(1).max(MAX_REPLICAS).optional(),
    resources: ResourceChange.optional(),
  })
  .refine((b) => b.replicas !== undefined || Object.keys(b.resources ?? {}).length > 0, {
    message: 'give replicas, resources ({cpuMillis, memoryMb}), or both',
  });
export type Scale = z.infer<typeof Scale>;

/** POST /api/v1/projects/:project/scale: the live deployment with its new count, or the release started with new resources. */
export interface ScaleAnswer {
  deployment: Deployment;
  previousReplicas: number;
  /** True when `deployment` is a new release (resources changed), to follow like a deploy. */
  newRelease: boolean;
}

export const UnsetEnv = z.object({ keys: z.array(z.string().regex(ENV_KEY, 'not an env var name')).min(1).max(100) });
export type UnsetEnv = z.infer<typeof UnsetEnv>;

/** Env changes answer with the release they started (null when the project has nothing live). */
export interface EnvChangeAnswer {
  keys: string[];
  release: Deployment | null;
}

/** GET /api/v1/projects/:project/events?limit=&before= */
export const EventQuery = z.object({
  limit: pageLimit(500, 50),
  /** An event id: only older events (paging back). */
  before: cursor.optional(),
});
export type EventQuery = z.infer<typeof EventQuery>;

export interface EventView {
  id: number;
  at: string;
  actor: string | null;
  kind: string;
  data: Record<string, unknown>;
}
