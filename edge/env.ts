import type { Fetcher, R2Bucket } from './cf.js';

export interface Env {
  ARTIFACTS: R2Bucket;
  /** Static assets (dist/public): the dashboard and the agent bundle. */
  ASSETS: Fetcher;
  DATABASE_URL: string;
  DB_WS_PROXY?: string;
  ENV_ENCRYPTION_KEY: string;
  SCHEDULER_SIGNING_KEY: string;
  APPS_DOMAIN: string;
  APPS_SCHEME: string;
  APPS_PUBLIC_PORT?: string;
  HEARTBEAT_INTERVAL_MS?: string;
  MAX_ARTIFACT_BYTES?: string;
  /** Origin agents use to reach this Worker; defaults to the origin of the request. */
  PUBLIC_URL?: string;
}

export function heartbeatIntervalMs(env: Env): number {
  return Number(env.HEARTBEAT_INTERVAL_MS ?? 5000) || 5000;
}
