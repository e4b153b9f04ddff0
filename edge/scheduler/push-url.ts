import { isLocalStack, type Env } from '../env.js';
import { HttpError } from '../http.js';

/**
 * The Worker POSTs signed desired state (with the tasks' env values) to a node's push URL, so a
 * node credential must not be able to point it anywhere: outside the local stack only https, and
 * only into the nodes' domain (`nodes.<APPS_DOMAIN>`, where each node's proxy forwards to its agent)
 * or the domains listed in PUSH_URL_DOMAINS. Answers why a URL is refused, or null when it is fine.
 */
export function pushUrlProblem(env: Env, raw: string): string | null {
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (!url || !['http:', 'https:'].includes(url.protocol)) return 'a push URL must be an http(s) URL';
  if (url.username || url.password) return 'a push URL must not carry a user name or password';
  if (isLocalStack(env)) return null;
  if (url.protocol !== 'https:') {
    return 'a push URL must use https: the pushed desired state carries the tasks\' env values (plain http is allowed on the local stack only)';
  }
  const domains = pushDomains(env);
  const host = url.hostname.toLowerCase();
  if (!domains.some((d) => host === d || host.endsWith(`.${d}`))) {
    return `a push URL must point into ${domains.join(' or ')} (PUSH_URL_DOMAINS), not ${host}`;
  }
  return null;
}

function pushDomains(env: Env): string[] {
  const listed = (env.PUSH_URL_DOMAINS ?? '').split(',').map((d) => d.trim().toLowerCase().replace(/^\.+|\.+$/g, '')).filter(Boolean);
  return listed.length ? listed : [`nodes.${env.APPS_DOMAIN.toLowerCase()}`];
}

/** 400 `invalid_push_url` naming the rule, for register and heartbeat. */
export function requirePushUrl(env: Env, raw: string): void {
  const problem = pushUrlProblem(env, raw);
  if (problem) throw new HttpError(400, 'invalid_push_url', `pushUrl ${raw.slice(0, 200)}: ${problem}`);
}
