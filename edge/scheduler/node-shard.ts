import { HeartbeatRequest, hashToken, type HeartbeatResponse } from '../../protocol/index.js';
import { bearer } from '../auth.js';
import type { DurableObjectState } from '../cf.js';
import { isConnectionFailure, type Db } from '../db.js';
import type { Deps } from '../deps.js';
import { heartbeatIntervalMs, type Env } from '../env.js';
import { HttpError, errorResponse, json, readJson } from '../http.js';
import { desiredState } from './desired.js';
import { evaluate } from './evaluate.js';
import { writeHeartbeat } from './heartbeat-write.js';
import { livenessTimes, NodeTable, reportSignature, type NodeEntry } from './node-table.js';
import { objectDeps } from './object-deps.js';
import { requirePushUrl } from './push-url.js';
import { flushShard, loadNode, loadShard, markLost } from './shard-sql.js';
import type { GenerationBump } from './shards.js';

/** While the database is unreachable the alarm retries this often. */
const RETRY_MS = 1_000;

/**
 * A NodeShard Durable Object: heartbeats and liveness of the nodes of one shard (shards.ts).
 * A heartbeat that reports nothing new, from a node that applied its generation, is answered from
 * memory: no database round trip, no lock. One with news writes only that (heartbeat-write.ts) and
 * raises an evaluation of the projects concerned. The alarm declares silent nodes lost
 * (node-table.ts: two intervals and a margin) and writes what steady heartbeats left in memory.
 * Memory is lost on a restart: the shard reloads its nodes from the database and gives each a grace
 * period, as it does after the database was unreachable, so neither counts against the nodes.
 */
export class NodeShard {
  private readonly deps: Deps;
  private readonly table: NodeTable;
  private readonly flushEveryMs: number;
  private shard: number | undefined;
  private loading: Promise<void> | undefined;
  private loaded = false;
  private dbDown = false;
  private nextFlush = 0;
  private alarmAt = Infinity;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: Env,
  ) {
    this.deps = objectDeps(state, env, 2);
    const interval = heartbeatIntervalMs(env);
    this.table = new NodeTable(livenessTimes(interval));
    this.flushEveryMs = 3 * interval;
  }

  async fetch(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      await this.identify(Number(url.searchParams.get('shard')));
      await this.ensureLoaded();
      switch (url.pathname) {
        case '/heartbeat':
          return json(await this.heartbeat(request, url.searchParams.get('node') ?? ''));
        case '/registered':
          await this.know(url.searchParams.get('node') ?? '');
          return json({ ok: true });
        case '/generations':
          for (const bump of ((await request.json()) as { nodes: GenerationBump[] }).nodes) this.table.raiseGeneration(bump.id, bump.generation);
          return json({ ok: true });
        default:
          return json({ ok: true, nodes: this.table.size });
      }
    } catch (err) {
      return errorResponse(err);
    }
  }

  private async heartbeat(request: Request, nodeId: string): Promise<HeartbeatResponse> {
    const node = await this.authenticate(request, nodeId);
    const body = await readJson(request, HeartbeatRequest);
    // Checked when it changes: a node repeats its push URL in every heartbeat.
    if (body.pushUrl && body.pushUrl !== node.pushUrl) requirePushUrl(this.env, body.pushUrl);
    const now = Date.now();
    // Heard from, whatever happens to the write below: a database problem is not the node's.
    this.table.seen(node, now);
    node.metrics = body.tasks;
    const signature = reportSignature(body.tasks, body.foreignPorts);
    const news = node.status !== 'ready' || signature !== node.signature || body.appliedGeneration !== node.applied ||
      (body.pushUrl !== undefined && body.pushUrl !== node.pushUrl);
    if (news) {
      const returned = node.status === 'down';
      const written = await this.db((db) => writeHeartbeat(db, node.id, body));
      Object.assign(node, { signature, applied: body.appliedGeneration, status: 'ready', flushedSeen: now, metrics: null });
      if (body.pushUrl !== undefined) node.pushUrl = body.pushUrl;
      this.table.raiseGeneration(node.id, written.generation);
      // A returning node is capacity again: a sweep finds what waited for it.
      if (written.projects.length || returned) this.raise(written.projects, returned);
    }
    const answer: HeartbeatResponse = { generation: node.generation, heartbeatIntervalMs: heartbeatIntervalMs(this.env) };
    if (node.generation !== body.appliedGeneration) {
      const desired = await this.db((db) => desiredState(db, this.env, node.id));
      this.table.raiseGeneration(node.id, desired.generation);
      answer.generation = desired.generation;
      answer.desired = desired;
    }
    return answer;
  }

  /** The node's credential against the hash this shard holds (read once per node per instance). */
  private async authenticate(request: Request, nodeId: string): Promise<NodeEntry> {
    const hash = await hashToken(bearer(request));
    const node = await this.know(nodeId);
    if (!node || node.credentialHash !== hash) throw new HttpError(401, 'unknown_node', 'node credential not recognised; register the node again');
    return node;
  }

  /**
   * The node's entry, read from the database the first time this instance hears of it (its
   * registration, or its heartbeat), which starts its liveness clock: into a table loaded at
   * start-up the usual deadline, into one that could not load a grace period.
   */
  private async know(nodeId: string): Promise<NodeEntry | undefined> {
    let node = this.table.get(nodeId);
    if (node || !nodeId) return node;
    const row = await this.db((db) => loadNode(db, nodeId));
    if (row) node = this.table.add(row, Date.now(), !this.loaded || this.dbDown);
    if (node) await this.scheduleAlarm(node.deadline);
    return node;
  }

  async alarm(): Promise<void> {
    this.alarmAt = Infinity;
    let retry = false;
    try {
      this.shard ??= await this.state.storage.get<number>('shard');
      if (this.shard === undefined) return; // never used: nothing to watch
      await this.ensureLoaded();
      const now = Date.now();
      if (now >= this.nextFlush || this.dbDown) {
        // A shard without nodes has nothing to write or re-read.
        if (this.table.size > 0) {
          const generations = await this.db((db) => flushShard(db, this.shard!, [...this.table.all()]));
          for (const [id, generation] of generations) this.table.raiseGeneration(id, generation);
        }
        this.nextFlush = now + this.flushEveryMs;
      }
      const lost = this.table.expired(Date.now());
      if (lost.length) {
        const { down, projects } = await this.db((db) => markLost(db, lost, Date.now()));
        for (const id of down) this.table.get(id)!.status = 'down';
        // Skipped (its row was busy): looked at again in a second, if it is still silent then.
        const retryAt = Date.now() + RETRY_MS;
        for (const n of lost) if (n.status === 'ready' && n.deadline < retryAt) n.deadline = retryAt;
        if (down.length) console.warn(`node shard ${this.shard}: ${down.length} node(s) silent for ${this.table.times.lostAfterMs} ms declared lost: ${down.join(', ')}`);
        if (projects.length) await evaluate(this.env, { projects }).catch((err) => console.error(`evaluation after node loss failed: ${(err as Error).message}`));
      }
    } catch (err) {
      console.error(`node shard ${this.shard} alarm: ${(err as Error).message}`);
      retry = true;
    }
    await this.scheduleAlarm(retry || this.dbDown ? Date.now() + RETRY_MS : Math.min(this.nextFlush, this.table.nextDeadline()));
  }

  /** Runs a database operation; a connection failure marks an outage, the first success after one gives every node its grace. */
  private async db<T>(op: (db: Db) => Promise<T>): Promise<T> {
    try {
      const result = await op(this.deps.db());
      if (this.dbDown) {
        this.dbDown = false;
        this.table.graceAll(Date.now());
        console.warn(`node shard ${this.shard}: database reachable again; every node gets ${this.table.times.graceMs} ms of grace`);
      }
      return result;
    } catch (err) {
      if (isConnectionFailure(err)) this.dbDown = true;
      throw err;
    }
  }

  private raise(projects: string[], sweep: boolean): void {
    this.state.waitUntil(
      evaluate(this.env, { projects, sweep }).catch((err) => console.error(`evaluation after a heartbeat failed (the scheduler's sweep retries): ${(err as Error).message}`)),
    );
  }

  private async identify(shard: number): Promise<void> {
    if (this.shard !== undefined || !Number.isInteger(shard)) return;
    this.shard = shard;
    await this.state.storage.put('shard', shard);
  }

  /** Cold start: every node of the shard, each with a grace period. Retried by the next request or alarm if it fails. */
  private ensureLoaded(): Promise<void> {
    if (this.loaded || this.shard === undefined) return Promise.resolve();
    this.loading ??= (async () => {
      try {
        const now = Date.now();
        for (const row of await this.db((db) => loadShard(db, this.shard!))) this.table.add(row, now);
        this.loaded = true;
        this.nextFlush = now + this.flushEveryMs;
        await this.scheduleAlarm(Math.min(this.nextFlush, this.table.nextDeadline()));
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private async scheduleAlarm(at: number): Promise<void> {
    if (!Number.isFinite(at) || at >= this.alarmAt) return;
    this.alarmAt = at;
    await this.state.storage.setAlarm(at);
  }
}
