import type { IRequest } from 'itty-router';
import { RegisterRequest, generateToken, hashToken, newId, type RegisterResponse } from '../../protocol/index.js';
import { bearer } from '../auth.js';
import { transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { heartbeatIntervalMs } from '../env.js';
import { HttpError, json, readJson, readLimited } from '../http.js';
import { evaluate } from './evaluate.js';
import { requirePushUrl } from './push-url.js';
import { announceNode, shardOf, shardStub } from './shards.js';
import { ISSUER, jwks } from './signing.js';

/** A join token that may register a node: not revoked, not expired, and not a single-use one already used. */
const USABLE_JOIN_TOKEN = `token_hash = $1 AND revoked_at IS NULL AND expires_at > now() AND NOT (single_use AND used_at IS NOT NULL)`;
const refused = () => new HttpError(401, 'invalid_join_token', 'join token is invalid, expired, revoked or already used');

export async function register(request: IRequest, deps: Deps): Promise<Response> {
  const joinHash = await hashToken(bearer(request));
  const db = deps.db();
  // The token before the body: install.sh checks a token by sending an empty body (401 = refused).
  // Checking does not use it up; only a registration does, below.
  const { rows } = await db.query(`SELECT id, single_use FROM join_tokens WHERE ${USABLE_JOIN_TOKEN}`, [joinHash]);
  if (!rows[0]) throw refused();
  const singleUse = rows[0].single_use as boolean;
  const body = await readJson(request, RegisterRequest);
  const [portMin, portMax] = body.portRange;
  if (portMin > portMax) throw new HttpError(400, 'invalid_request', 'portRange: the first port must not exceed the second');
  if (body.pushUrl) requirePushUrl(deps.env, body.pushUrl);

  const nodeId = newId('n');
  const credential = generateToken('zn');
  await transaction(db, async (tx) => {
    // The token's row lock makes two registrations with one single-use token race to one winner. A
    // fleet sharing one token takes the lock last, for the commit only, so registrations don't queue.
    const use = async () => {
      const used = await tx.query(`UPDATE join_tokens SET used_at = now() WHERE ${USABLE_JOIN_TOKEN} RETURNING id`, [joinHash]);
      if (!used.rows[0]) throw refused();
    };
    if (singleUse) await use();
    await tx.query(
      `INSERT INTO nodes (id, name, address, push_url, labels, cpu_millis, memory_mb, port_min, port_max, status, credential_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ready', $10)`,
      [nodeId, body.name, body.address, body.pushUrl ?? null, JSON.stringify(body.labels), body.capacity.cpuMillis,
        body.capacity.memoryMb, portMin, portMax, await hashToken(credential)],
    );
    await tx.query(`INSERT INTO events (kind, data) VALUES ('node.registered', $1)`, [
      JSON.stringify({ nodeId, name: body.name, joinTokenId: rows[0].id }),
    ]);
    if (!singleUse) await use();
  });
  // A new node may unblock deployments waiting for capacity: the sweep finds them (not awaited:
  // a fleet registering at once must not queue behind passes).
  deps.defer(evaluate(deps.env, { sweep: true }));
  // A node that never heartbeats (an agent that died at once, a registration retried after its
  // answer was lost) must be lost like any silent node; a running shard would only hear of it then.
  deps.defer(announceNode(deps.env.NODE_SHARDS, nodeId));
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

/** As readJson's limit: a heartbeat carries a node's task list. */
const HEARTBEAT_LIMIT = 1024 * 1024;

/**
 * POST /scheduler/v1/nodes/:id/heartbeat: handled by the node's shard (node-shard.ts), which
 * answers steady heartbeats from memory. The Worker opens no database connection for it.
 */
export async function heartbeat(request: IRequest, deps: Deps): Promise<Response> {
  const nodeId = request.params.id!;
  const shard = shardOf(nodeId);
  const url = `https://shard/heartbeat?shard=${shard}&node=${encodeURIComponent(nodeId)}`;
  // The body is read here (bounded): a shard that refuses a credential answers before reading it,
  // and a streamed body the shard never read would fail the forwarding request.
  const body = await readLimited(request, HEARTBEAT_LIMIT);
  const headers = new Headers();
  for (const name of ['authorization', 'content-type']) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const stub = shardStub(deps.env.NODE_SHARDS, shard);
  // The DOM and Workers typings of Request differ; the object is the same.
  return (stub.fetch.bind(stub) as unknown as (r: Request) => Promise<Response>)(new Request(url, { method: 'POST', headers, body }));
}

export async function getJwks(_request: IRequest, deps: Deps): Promise<Response> {
  return json(await jwks(deps.env.SCHEDULER_SIGNING_KEY));
}
