import type { IRequest } from 'itty-router';
import {
  IDENTITY_AUDIENCE_ENV, IDENTITY_TOKEN_TYPE, IdentityTokensRequest, type IdentityClaims, type IdentityTokensResponse,
} from '../../protocol/index.js';
import { decrypt } from '../../protocol/crypto.js';
import { requireNode } from '../auth.js';
import { apiAudience, catalogIssuer, signCatalogJwt } from '../catalog/keys.js';
import type { Deps } from '../deps.js';
import type { Env } from '../env.js';
import { HttpError, json, readJson } from '../http.js';

/** An hour, as the issue asks; the catalog keeps a retired key published for two (keys.ts). */
const DEFAULT_TTL_S = 3600;
/** Below this an agent would renew (at half the lifetime) more often than every few seconds. */
const MIN_TTL_S = 10;
const MAX_AUDIENCES = 10;
const MAX_AUDIENCE_CHARS = 512;

/** IDENTITY_TOKEN_TTL_S (tests shorten it), within [MIN_TTL_S, DEFAULT_TTL_S]. */
export function identityTokenTtlS(env: Env): number {
  const ttl = Math.floor(Number(env.IDENTITY_TOKEN_TTL_S ?? DEFAULT_TTL_S));
  return Number.isFinite(ttl) ? Math.min(DEFAULT_TTL_S, Math.max(MIN_TTL_S, ttl)) : DEFAULT_TTL_S;
}

/** The audience of a task's token: its release's ZECTRE_IDENTITY_AUDIENCE, else `<issuer>/workload`. */
export function identityAudience(env: Env, releaseEnv: Record<string, string>): string | string[] {
  const raw = releaseEnv[IDENTITY_AUDIENCE_ENV];
  if (raw === undefined || !raw.trim()) return `${catalogIssuer(env)}/workload`;
  const list = raw.split(',').map((a) => a.trim()).filter(Boolean);
  if (list.length > MAX_AUDIENCES || list.some((a) => a.length > MAX_AUDIENCE_CHARS)) {
    throw new Error(`${IDENTITY_AUDIENCE_ENV} must name at most ${MAX_AUDIENCES} audiences of at most ${MAX_AUDIENCE_CHARS} characters each`);
  }
  // Defence in depth beside the typ: an identity token never carries the API's own audience.
  if (list.includes(apiAudience(env))) throw new Error(`${IDENTITY_AUDIENCE_ENV} must not name the API's audience (${apiAudience(env)})`);
  return list.length === 1 ? list[0]! : list;
}

/**
 * POST /scheduler/v1/nodes/:id/identity-tokens {taskIds}: a workload identity token for each task
 * the scheduler wants running on this very node now. A node never gets one for another node's task
 * (nor for a stopped one): those ids are listed as refused, and when nothing is left the answer is a
 * 404, as for a log batch of another node's task. Agents ask once per renewal period per batch, not
 * per heartbeat, so the heartbeat path stays free of database work.
 */
export async function issueIdentityTokens(request: IRequest, deps: Deps): Promise<Response> {
  const node = await requireNode(request, deps, request.params.id!);
  const { taskIds } = await readJson(request, IdentityTokensRequest, 64 * 1024);
  const wanted = [...new Set(taskIds)];
  const { rows } = await deps.db().query(
    `SELECT t.id, t.deployment_id, d.env_enc, p.id AS project_id, p.slug
     FROM tasks t JOIN deployments d ON d.id = t.deployment_id JOIN projects p ON p.id = d.project_id
     WHERE t.id = ANY($1::text[]) AND t.node_id = $2 AND t.desired_state = 'running'`,
    [wanted, node.id],
  );
  if (!rows.length) {
    throw new HttpError(404, 'task_not_found', `none of the ${wanted.length} task(s) asked for is meant to run on node ${node.id}`);
  }
  const env = deps.env;
  const expiresInS = identityTokenTtlS(env);
  const audiences = new Map<string, Promise<string | string[]>>();
  const audienceOf = (deploymentId: string, envEnc: string) => {
    if (!audiences.has(deploymentId)) {
      audiences.set(deploymentId, decrypt(env.ENV_ENCRYPTION_KEY, envEnc).then((plain) => identityAudience(env, JSON.parse(plain))));
    }
    return audiences.get(deploymentId)!;
  };
  const answer: IdentityTokensResponse = { tokens: {}, refused: {}, expiresInS };
  const issued = new Set<string>();
  for (const r of rows) {
    issued.add(r.id);
    let audience: string | string[];
    try {
      audience = await audienceOf(r.deployment_id, r.env_enc);
    } catch (err) {
      answer.refused[r.id] = (err as Error).message;
      continue;
    }
    const claims: IdentityClaims = { project: r.slug, project_id: r.project_id, deployment: r.deployment_id, task: r.id, node: node.id };
    // signCatalogJwt wants one audience string; jose's setAudience takes a list too, hence the cast.
    answer.tokens[r.id] = await signCatalogJwt(env, deps.db(), { ...claims }, {
      subject: `task:${r.id}`,
      audience,
      expiresInS,
      type: IDENTITY_TOKEN_TYPE,
    });
  }
  for (const id of wanted) if (!issued.has(id)) answer.refused[id] = `not a task meant to run on node ${node.id} now`;
  return json(answer);
}
