import type { IRequest } from 'itty-router';
import {
  HeartbeatRequest,
  RegisterRequest,
  generateToken,
  hashToken,
  newId,
  type HeartbeatResponse,
  type ObservedTask,
  type RegisterResponse,
} from '../../protocol/index.js';
import { bearer, requireNode } from '../auth.js';
import { bumpRouteEpoch, transaction, type Tx } from '../db.js';
import type { Deps } from '../deps.js';
import { heartbeatIntervalMs } from '../env.js';
import { HttpError, json, readJson } from '../http.js';
import { desiredState } from './desired.js';
import { requirePushUrl } from './push-url.js';
import { reconcile } from './reconcile.js';
import { ISSUER, jwks } from './signing.js';

/** A join token that may register a node: not revoked, not expired, and not a single-use one already used. */
const USABLE_JOIN_TOKEN = `token_hash = $1 AND revoked_at IS NULL AND expires_at > now() AND NOT (single_use AND used_at IS NOT NULL)`;
const refused = () => new HttpError(401, 'invalid_join_token', 'join token is invalid, expired, revoked or already used');

export async function register(request: IRequest, deps: Deps): Promise<Response> {
  const joinHash = await hashToken(bearer(request));
  const db = deps.db();
  // The token before the body: install.sh checks a token by sending an empty body (401 = refused).
  // Checking does not use it up; only a registration does, below.
  const { rows } = await db.query(`SELECT id FROM join_tokens WHERE ${USABLE_JOIN_TOKEN}`, [joinHash]);
  if (!rows[0]) throw refused();
  const body = await readJson(request, RegisterRequest);
  const [portMin, portMax] = body.portRange;
  if (portMin > portMax) throw new HttpError(400, 'invalid_request', 'portRange: the first port must not exceed the second');
  if (body.pushUrl) requirePushUrl(deps.env, body.pushUrl);

  const nodeId = newId('n');
  const credential = generateToken('zn');
  await transaction(db, async (tx) => {
    // The row lock makes two registrations with one single-use token race to one winner.
    const used = await tx.query(`UPDATE join_tokens SET used_at = now() WHERE ${USABLE_JOIN_TOKEN} RETURNING id`, [joinHash]);
    if (!used.rows[0]) throw refused();
    await tx.query(
      `INSERT INTO nodes (id, name, address, push_url, labels, cpu_millis, memory_mb, port_min, port_max, status, credential_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ready', $10)`,
      [nodeId, body.name, body.address, body.pushUrl ?? null, JSON.stringify(body.labels), body.capacity.cpuMillis,
        body.capacity.memoryMb, portMin, portMax, await hashToken(credential)],
    );
    await tx.query(`INSERT INTO events (kind, data) VALUES ('node.registered', $1)`, [
      JSON.stringify({ nodeId, name: body.name, joinTokenId: used.rows[0].id }),
    ]);
  });
  // A new node may unblock deployments waiting for capacity.
  await reconcile(deps);
  const answer: RegisterResponse = {
    nodeId,
    credential,
    heartbeatIntervalMs: heartbeatIntervalMs(deps.env),
    jwks: await jwks(deps.env.SCHEDULER_SIGNING_KEY),
    issuer: ISSUER,
    audience: nodeId,
  };
  return json(answer, 201);
}

const ROUTABLE = 'healthy';

export async function heartbeat(request: IRequest, deps: Deps): Promise<Response> {
  const node = await requireNode(request, deps, request.params.id);
  const body = await readJson(request, HeartbeatRequest);
  if (body.pushUrl) requirePushUrl(deps.env, body.pushUrl);
  await transaction(deps.db(), async (tx) => {
    await tx.query(
      `UPDATE nodes SET last_heartbeat_at = now(), applied_generation = $2, status = 'ready',
         push_url = CASE WHEN $3 THEN $4 ELSE push_url END WHERE id = $1`,
      [node.id, body.appliedGeneration, body.pushUrl !== undefined, body.pushUrl ?? null],
    );
    const changed = await recordObserved(tx, node.id, body.tasks);
    // Tasks the agent no longer reports and should not run are gone.
    const reported = body.tasks.map((t) => t.id);
    await tx.query(
      `UPDATE tasks SET observed_state = 'stopped', updated_at = now()
       WHERE node_id = $1 AND desired_state = 'stopped' AND observed_state NOT IN ('stopped', 'lost') AND NOT (id = ANY($2))`,
      [node.id, reported],
    );
    if (changed) await bumpRouteEpoch(tx);
  });
  // Health changes can complete a rollout; every heartbeat also sweeps lost nodes and deadlines.
  await reconcile(deps);

  const db = deps.db();
  const { rows } = await db.query('SELECT generation FROM nodes WHERE id = $1', [node.id]);
  const generation = Number(rows[0].generation);
  const answer: HeartbeatResponse = { generation, heartbeatIntervalMs: heartbeatIntervalMs(deps.env) };
  if (generation !== body.appliedGeneration) answer.desired = await desiredState(db, deps.env, node.id);
  return json(answer);
}

/** Stores what the agent observed; true when a task entered or left the routable state. */
async function recordObserved(tx: Tx, nodeId: string, tasks: ObservedTask[]): Promise<boolean> {
  if (!tasks.length) return false;
  const { rows } = await tx.query(
    `SELECT id, observed_state, restarts, exit_code, message FROM tasks WHERE node_id = $1 AND id = ANY($2) FOR UPDATE`,
    [nodeId, tasks.map((t) => t.id)],
  );
  const before = new Map(rows.map((r) => [r.id as string, r]));
  // CPU and RSS are stored with every heartbeat (one statement) but don't count as a change of the task.
  await tx.query(
    `UPDATE tasks t SET cpu_millis = u.cpu, rss_bytes = u.rss
     FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(id, cpu, rss) WHERE t.id = u.id AND t.node_id = $1`,
    [nodeId, tasks.map((t) => t.id), tasks.map((t) => t.cpuMillis ?? null), tasks.map((t) => t.rssBytes ?? null)],
  );
  let changed = false;
  for (const t of tasks) {
    const old = before.get(t.id);
    if (!old) continue; // not this node's task (or deleted): ignore rather than trust the agent
    const next = [t.state, t.restarts, t.exitCode ?? null, t.message ?? null];
    if (old.observed_state === next[0] && old.restarts === next[1] && old.exit_code === next[2] && old.message === next[3]) continue;
    await tx.query(
      `UPDATE tasks SET observed_state = $2, restarts = $3, exit_code = $4, message = $5, updated_at = now() WHERE id = $1`,
      [t.id, ...next],
    );
    if ((old.observed_state === ROUTABLE) !== (t.state === ROUTABLE)) changed = true;
  }
  return changed;
}

export async function getJwks(_request: IRequest, deps: Deps): Promise<Response> {
  return json(await jwks(deps.env.SCHEDULER_SIGNING_KEY));
}
