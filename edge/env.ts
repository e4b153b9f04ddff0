import type { DurableObjectNamespace, Fetcher, R2Bucket } from './cf.js';
import { HttpError } from './http.js';

export interface Env {
  ARTIFACTS: R2Bucket;
  /** Static assets (dist/public): the dashboard and the agent bundle. */
  ASSETS: Fetcher;
  /** The Scheduler Durable Object (one, named "cluster"): the single writer of scheduling decisions. */
  SCHEDULER: DurableObjectNamespace;
  /** NodeShard Durable Objects: heartbeats and liveness of the nodes of one shard (scheduler/shards.ts). */
  NODE_SHARDS: DurableObjectNamespace;
  DATABASE_URL: string;
  DB_WS_PROXY?: string;
  ENV_ENCRYPTION_KEY: string;
  SCHEDULER_SIGNING_KEY: string;
  APPS_DOMAIN: string;
  APPS_SCHEME: string;
  APPS_PUBLIC_PORT?: string;
  HEARTBEAT_INTERVAL_MS?: string;
  MAX_ARTIFACT_BYTES?: string;
  /** Seconds a build may wait for a builder to take it before it is failed (default 600; tests shorten it). */
  BUILD_QUEUE_TIMEOUT_S?: string;
  /**
   * Origin people and agents reach this Worker at, for the one place an absolute URL is needed
   * (install.sh). Never taken from a request: a forged Host header must not change a URL we hand out.
   */
  PUBLIC_URL?: string;
  /** "1" on the one-machine stack (dev/): allows plain-http push URLs anywhere. Honoured only with a loopback PUBLIC_URL. */
  ZECTRE_LOCAL_STACK?: string;
  /** Comma-separated domains push URLs may point into (a host equal to one or below it); default `nodes.<APPS_DOMAIN>`. */
  PUSH_URL_DOMAINS?: string;
  /** The catalog's `iss`; default PUBLIC_URL. Set it when the catalog is reached at another origin. */
  CATALOG_ISSUER?: string;
  /** The `aud` of the API's access tokens; default "zectre-api". */
  CATALOG_API_AUDIENCE?: string;
  /** Where the API reads the catalog's JWKS when the catalog runs as a separate Worker; default: this Worker's own key table. */
  CATALOG_JWKS_URL?: string;
  /** Lifetime of workload identity tokens in seconds (default and most 3600, least 10); tests shorten it. */
  IDENTITY_TOKEN_TTL_S?: string;
  /**
   * Optional secret (wrangler secret put SETUP_SECRET, 16+ characters): opening <PUBLIC_URL>/setup#<secret>
   * enrols the first admin's passkey, as a link from `npm run setup` does, while no admin has one.
   */
  SETUP_SECRET?: string;
}

export function heartbeatIntervalMs(env: Env): number {
  return Number(env.HEARTBEAT_INTERVAL_MS ?? 5000) || 5000;
}

/** PUBLIC_URL without a trailing slash; a clear 503 naming the setting when it is missing or not an http(s) origin. */
export function publicUrl(env: Env): string {
  const raw = env.PUBLIC_URL?.trim() ?? '';
  const url = URL.canParse(raw) ? new URL(raw) : null;
  // install.sh quotes it for sh: only the characters a host name, IP or port can have.
  if (!url || !['http:', 'https:'].includes(url.protocol) || !/^https?:\/\/[A-Za-z0-9.:[\]-]+$/.test(url.origin)) {
    throw new HttpError(
      503,
      'public_url_not_set',
      raw
        ? `PUBLIC_URL="${raw.slice(0, 100)}" is not an http(s) URL; set it to the origin agents reach this control plane at`
        : 'this control plane has no PUBLIC_URL configured (the origin agents reach it at, e.g. https://zectre.example.com); set the PUBLIC_URL var of the Worker',
    );
  }
  return url.origin;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * The one-machine stack relaxes the push URL rules (plain http to 127.0.0.1). It is marked by
 * ZECTRE_LOCAL_STACK=1, which counts only when PUBLIC_URL is a loopback URL too, so a flag copied
 * into a deployed Worker's config cannot weaken it silently: that is a 503 naming both settings.
 */
export function isLocalStack(env: Env): boolean {
  if (env.ZECTRE_LOCAL_STACK !== '1') return false;
  const raw = env.PUBLIC_URL ?? '';
  if (URL.canParse(raw) && LOOPBACK.test(new URL(raw).hostname)) return true;
  throw new HttpError(
    503,
    'local_stack_misconfigured',
    `ZECTRE_LOCAL_STACK=1 is only for the one-machine stack and needs a loopback PUBLIC_URL (got "${raw.slice(0, 100)}"); unset ZECTRE_LOCAL_STACK on a deployed control plane`,
  );
}
