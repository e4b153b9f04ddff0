/** Agent configuration from ZECTRE_* environment variables, with one-line errors for bad values. */
import { cpus, hostname, totalmem } from 'node:os';
import type { AgentConfig } from './agent.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function configFromEnv(env: NodeJS.ProcessEnv): AgentConfig {
  return {
    apiUrl: required(env, 'ZECTRE_API_URL', 'the control plane URL, e.g. http://127.0.0.1:8787'),
    joinToken: required(env, 'ZECTRE_JOIN_TOKEN', 'the join token from the control plane'),
    stateDir: env.ZECTRE_AGENT_STATE_DIR || './.zectre/agent',
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
  };
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

function pushUrl(raw: string): string {
  if (!URL.canParse(raw.replaceAll('{nodeId}', 'n0'))) {
    throw new ConfigError(`ZECTRE_AGENT_PUSH_URL="${raw}" is not a URL (e.g. https://{nodeId}.nodes.example.com/v1/desired-state)`);
  }
  return raw;
}
