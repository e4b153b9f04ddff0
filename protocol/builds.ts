/** Builds (issue 13): source artifact in, runnable artifact out, on nodes labelled `builder`. */
import { z } from 'zod';
import { DIGEST_PATTERN, ENV_KEY } from './api.js';
import { line, text } from './fields.js';

export const BUILD_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out'] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];
export const BUILD_ENDED: readonly BuildStatus[] = ['succeeded', 'failed', 'canceled', 'timed_out'];

/** The label that makes a node a builder (ZECTRE_AGENT_LABELS="builder" or install.sh --labels builder). */
export const BUILDER_LABEL = 'builder';

/** Defaults for a build's limits (zectre.json build.timeoutSeconds / build.memoryMb override them). */
export const BUILD_DEFAULT_TIMEOUT_S = 15 * 60;
export const BUILD_DEFAULT_MEMORY_MB = 2048;
/** Lines kept per build: beyond, the oldest are dropped (the log says so). */
export const BUILD_LOG_MAX_LINES = 10_000;
/** One build log line is cut to this many characters. */
export const BUILD_LOG_LINE_MAX = 4_096;

/** zectre.json "build" object. */
export const BuildConfig = z.object({
  command: text(4_096, 1).optional(),
  install: text(4_096, 1).optional(),
  start: text(4_096, 1).optional(),
  /** Names of project env vars handed to the build (all others stay out of it). */
  buildVars: z.array(z.string().regex(ENV_KEY, 'env var names are letters, digits and _, not starting with a digit')).max(100).optional(),
  timeoutSeconds: z.number().int().min(1).max(6 * 3600).optional(),
  memoryMb: z.number().int().min(64).max(65_536).optional(),
});
export type BuildConfig = z.infer<typeof BuildConfig>;

/** POST /api/v1/projects/:project/builds */
export const CreateBuild = z.object({
  sourceDigest: z.string().regex(DIGEST_PATTERN, 'expected sha256:<64 hex digits>'),
  deploy: z.boolean().default(true),
  config: BuildConfig.default({}),
});
export type CreateBuild = z.input<typeof CreateBuild>;

/** What the builder decided to run, shown to the user. */
export interface BuildPlan {
  packageManager: 'npm' | 'pnpm' | 'yarn' | 'none';
  nodeVersion: string;
  install: string | null;
  build: string | null;
  prune: string | null;
  start: string;
}

export interface Build {
  id: string;
  project: string;
  status: BuildStatus;
  step: string | null;
  node: string | null;
  sourceDigest: string;
  artifactDigest: string | null;
  cacheKey: string | null;
  cache: 'hit' | 'miss' | null;
  deploymentId: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  plan: BuildPlan | null;
}

export interface BuildLogLine {
  seq: number;
  at: string;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

/** GET /api/v1/builds/:id/logs?after=&wait= */
export const BuildLogQuery = z.object({
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  wait: z.coerce.number().int().min(0).max(25).default(0),
});

export interface BuildLogPage {
  lines: BuildLogLine[];
  done: boolean;
}

// --- agent <-> edge ---

/** POST /scheduler/v1/nodes/:id/builds/claim answers a build for this builder, or null. */
export interface BuildAssignment {
  id: string;
  project: string;
  /** The project's id: the build's uid on the node is keyed by it. */
  projectId: string;
  sourceDigest: string;
  config: BuildConfig;
  /** Values of the env vars named in config.buildVars: for this build only, never stored on the node. */
  buildEnv: Record<string, string>;
  /** Values the runner masks in log lines (every env value of the project). */
  secrets: string[];
  /** Log lines the edge already wrote (the queued line): the builder numbers its lines after them. */
  logSeq?: number;
}
export interface ClaimResponse {
  build: BuildAssignment | null;
}

const LogEntry = z.object({
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  at: z.number().int().min(0).max(253_402_300_799_999),
  stream: z.enum(['stdout', 'stderr', 'system']),
  line: text(BUILD_LOG_LINE_MAX),
});

const digest = z.string().regex(DIGEST_PATTERN, 'expected sha256:<64 hex digits>');

/** POST /scheduler/v1/builds/:id/report: progress, log lines and, once, the outcome. */
export const BuildReport = z.object({
  lines: z.array(LogEntry).max(1_000).default([]),
  step: line(32).optional(),
  plan: z
    .object({
      packageManager: z.enum(['npm', 'pnpm', 'yarn', 'none']),
      nodeVersion: line(64),
      install: text(4_096).nullable(),
      build: text(4_096).nullable(),
      prune: text(4_096).nullable(),
      start: text(4_096),
    })
    .optional(),
  cacheKey: line(200).optional(),
  cache: z.enum(['hit', 'miss']).optional(),
  result: z
    .discriminatedUnion('status', [
      z.object({ status: z.literal('succeeded'), artifactDigest: digest }),
      z.object({ status: z.enum(['failed', 'timed_out', 'canceled']), error: text(8_192, 1) }),
    ])
    .optional(),
});
export type BuildReport = z.input<typeof BuildReport>;
export interface BuildReportResponse {
  /** The highest seq stored for this build. */
  ackedSeq: number;
  /** The build was canceled (or ended otherwise): the runner stops. */
  stop: boolean;
}

/** The manifest every build artifact carries at its root. */
export const BUILD_MANIFEST = 'zectre-build.json';
export interface BuildManifest {
  start: string;
  nodeVersion: string;
  sourceDigest: string;
  cacheKey: string;
  builderVersion: string;
}
