import type { DurableObjectState } from '../cf.js';
import type { Deps } from '../deps.js';
import { heartbeatIntervalMs, type Env } from '../env.js';
import { errorResponse, json } from '../http.js';
import { EvaluationQueue, type Evaluation } from './evaluation-queue.js';
import { objectDeps } from './object-deps.js';
import { reconcileProjects } from './reconcile.js';
import { notifyGenerations, SHARDS, shardStub } from './shards.js';

/** While a sweep finds work in flight (rollouts, retirements waiting for proxies), sweep this often. */
const BUSY_SWEEP_MS = 1_000;
/**
 * With nothing in flight a sweep is only a backstop for an event that got lost (events drive the
 * work, `wakeAt` the timers), so it is rare: its cost must not show per heartbeat in a small fleet.
 */
const IDLE_SWEEP_MS = 30_000;

/**
 * The Scheduler Durable Object (one per cluster, named "cluster"): the single writer of scheduling
 * decisions. API routes and node shards raise evaluations of projects (POST /evaluate); they are
 * coalesced and run one pass at a time (evaluation-queue.ts), so no request waits on a database
 * lock held by another. Its alarm sweeps for time-driven work: deadlines, retirements waiting for
 * proxies' acknowledgements, and anything an event missed. The alarm is stored with the object and
 * survives restarts; the object keeps nothing else it could lose.
 */
export class SchedulerObject {
  private readonly deps: Deps;
  private readonly queue: EvaluationQueue;
  /** Earliest time a project evaluated so far asked to be looked at again (reconciler `wakeAt`). */
  private wakeAt = Infinity;
  private inFlight = false;
  private shardsWoken = false;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: Env,
  ) {
    this.deps = objectDeps(state, env, 2);
    this.queue = new EvaluationQueue((e) => this.pass(e));
  }

  async fetch(request: Request): Promise<Response> {
    try {
      await this.ensureAlarm();
      const path = new URL(request.url).pathname;
      if (path === '/evaluate') {
        const body = (await request.json()) as Partial<Evaluation>;
        await this.queue.raise({ projects: Array.isArray(body.projects) ? body.projects.map(String) : [], sweep: body.sweep === true });
      }
      return json({ ok: true });
    } catch (err) {
      return errorResponse(err);
    }
  }

  async alarm(): Promise<void> {
    let next = Math.max(IDLE_SWEEP_MS, heartbeatIntervalMs(this.env));
    try {
      this.wakeAt = Infinity;
      await this.queue.raise({ projects: [], sweep: true });
      if (this.inFlight) next = BUSY_SWEEP_MS;
    } catch (err) {
      console.error(`scheduler sweep failed (${(err as Error).message}); retrying in ${BUSY_SWEEP_MS} ms`);
      next = BUSY_SWEEP_MS;
    }
    await this.state.storage.setAlarm(Math.min(Date.now() + next, this.wakeAt));
  }

  private async pass(evaluation: Evaluation): Promise<void> {
    const { decisions, generations } = await reconcileProjects(this.deps, evaluation);
    if (evaluation.sweep) this.inFlight = decisions.length > 0;
    for (const d of decisions) if (d.wakeAt !== null) this.wakeAt = Math.min(this.wakeAt, d.wakeAt);
    // Before the callers hear back: once an API answer says "placed", the nodes' shards know.
    await notifyGenerations(this.env.NODE_SHARDS, generations);
  }

  /**
   * The first request after the object started: make sure the alarm runs, and wake every shard
   * once, so a shard whose nodes all went silent during a restart still starts its liveness clock.
   */
  private async ensureAlarm(): Promise<void> {
    if (this.shardsWoken) return;
    this.shardsWoken = true;
    // A stored alarm may be from before a restart (and already past): a sweep soon, whatever it said.
    await this.state.storage.setAlarm(Date.now() + BUSY_SWEEP_MS);
    const ns = this.env.NODE_SHARDS;
    for (let shard = 0; shard < SHARDS; shard++) {
      this.state.waitUntil(
        shardStub(ns, shard)
          .fetch(`https://shard/wake?shard=${shard}`, { method: 'POST' })
          .then((res) => res.body?.cancel())
          .catch((err) => console.warn(`waking shard ${shard} failed: ${(err as Error).message}`)),
      );
    }
  }
}
