/** Agent configuration from ZECTRE_* environment variables, with one-line errors for bad values. */
import { createHash } from 'node:crypto';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentConfig } from './agent.js';
import { DEFAULT_SPOOL_BYTES } from './log-spool.js';
import { DEFAULT_UNPACK_LIMITS } from './unpack.js';
import { LabelError, parseLabels } from './build/labels.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function configFromEnv(env: NodeJS.ProcessEnv): AgentConfig {
  const stateDir = env.ZECTRE_AGENT_STATE_DIR || './.zectre/agent';
  return {
    apiUrl: apiUrl(required(env, 'ZECTRE_API_URL', 'the control plane URL, e.g. http://127.0.0.1:8787')),
    joinToken: required(env, 'ZECTRE_JOIN_TOKEN', 'the join token from the control plane'),
    stateDir,
    workDir: env.ZECTRE_AGENT_WORK_DIR || defaultWorkDir(stateDir),
    uidRange: uidRange(env.ZECTRE_AGENT_UID_RANGE || '200000-299999'),
    unpackLimits: {
      maxBytes: integer(env, 'ZECTRE_AGENT_MAX_UNPACKED_BYTES', DEFAULT_UNPACK_LIMITS.maxBytes, 1),
      maxEntries: integer(env, 'ZECTRE_AGENT_MAX_ENTRIES', DEFAULT_UNPACK_LIMITS.maxEntries, 1),
    },
    name: env.ZECTRE_AGENT_NAME || hostname(),
    address: env.ZECTRE_AGENT_ADDRESS || '127.0.0.1',
    listenHost: env.ZECTRE_AGENT_HOST || '127.0.0.1',
    listenPort: integer(env, 'ZECTRE_AGENT_PORT', 7070, 0, 65535),
    push: env.ZECTRE_AGENT_PUSH !== 'off',
    ...(env.ZECTRE_AGENT_PUSH_URL ? { pushUrl: pushUrl(env.ZECTRE_AGENT_PUSH_URL) } : {}),
    ...(env.ZECTRE_AGENT_CGROUP ? { cgroupRoot: env.ZECTRE_AGENT_CGROUP } : {}),
    capacity: {
      cpuMillis: integer(env, 'ZECTRE_AGENT_CPU_MILLIS', cpus().length * 1000, 1),
      memoryMb: integer(env, 'ZECTRE_AGENT_MEMORY_MB', Math.floor(totalmem() / 1024 / 1024), 1),
    },
    portRange: portRange(env.ZECTRE_AGENT_PORT_RANGE || '20000-29999'),
    stopTasksOnExit: env.ZECTRE_AGENT_STOP_TASKS_ON_EXIT === '1',
    logSpoolBytes: integer(env, 'ZECTRE_AGENT_LOG_SPOOL_MB', DEFAULT_SPOOL_BYTES / 1048576, 1) * 1048576,
    labels: labels(env.ZECTRE_AGENT_LABELS),
    ...(env.ZECTRE_AGENT_BUILD_DIR ? { buildDir: env.ZECTRE_AGENT_BUILD_DIR } : {}),
    buildPollMs: integer(env, 'ZECTRE_AGENT_BUILD_POLL_MS', 2_000, 100),
  };
}

function labels(raw: string | undefined): Record<string, string> {
  try {
    return parseLabels(raw);
  } catch (err) {
    throw err instanceof LabelError ? new ConfigError(err.message) : err;
  }
}

function required(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is not set: it must hold ${what}`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}="${raw}" is not an integer between ${min} and ${max}`);
  }
  return value;
}

function portRange(raw: string): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(raw);
  const [low, high] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(low >= 1024 && high <= 65535 && low <= high)) {
    throw new ConfigError(`ZECTRE_AGENT_PORT_RANGE="${raw}" must look like 20000-29999 (ports 1024-65535, low <= high)`);
  }
  return [low, high];
}

/**
 * Outside the state directory and outside any checkout (an app under <checkout>/.zectre would
 * resolve the checkout's package.json and node_modules upward); one per state directory.
 */
export function defaultWorkDir(stateDir: string): string {
  return join(tmpdir(), `zectre-work-${createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 12)}`);
}

function uidRange(raw: string): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(raw);
  const [low, high] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  // Below 1000 are system accounts; Node's spawn takes uids up to 2^31 - 1.
  if (!(low >= 1000 && high <= 2 ** 31 - 2 && low <= high)) {
    throw new ConfigError(`ZECTRE_AGENT_UID_RANGE="${raw}" must look like 200000-299999 (uids 1000-${2 ** 31 - 2}, low <= high), one uid per project`);
  }
  return [low, high];
}

function apiUrl(raw: string): string {
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    throw new ConfigError(`ZECTRE_API_URL="${raw}" is not an http(s) URL (e.g. https://zectre.example.workers.dev)`);
  }
  return raw;
}

function pushUrl(raw: string): string {
  if (!URL.canParse(raw.replaceAll('{nodeId}', 'n0'))) {
    throw new ConfigError(`ZECTRE_AGENT_PUSH_URL="${raw}" is not a URL (e.g. https://{nodeId}.nodes.example.com/v1/desired-state)`);
  }
  return raw;
}
