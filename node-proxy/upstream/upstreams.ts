import type { Backend } from '../route-table.js';
import { UpstreamError } from './connection.js';
import { UpstreamPool, type PoolOptions } from './pool.js';
import { answers } from './probe.js';

/** How often deadlines and idle connections are checked: the resolution of every upstream timeout. */
const SWEEP_MS = 250;

export interface UpstreamLimits {
  /** Headers and body-idle timeout. */
  timeoutMs: number;
  /** Connect timeout (capped by timeoutMs). */
  connectMs: number;
  /** Connections per backend. */
  maxConnections: number;
  /** How long a request may wait for a free connection. */
  queueMs: number;
  /** Requests per client address per backend, sent or queued. */
  maxPerClient: number;
  /** How long a backend that left routing with requests waiting on it gets to answer a ping. Default 2000. */
  probeMs?: number;
}

/** One keep-alive pool per backend, created on first use and closed when the backend leaves the table. */
export class Upstreams {
  private readonly pools = new Map<string, UpstreamPool>();
  /** Pools of backends that left the table, swept until their last response ends. */
  private readonly draining = new Set<UpstreamPool>();
  /** Backends outside the route table (the local agent) whose pools retain() keeps. */
  readonly pinned = new Set<string>();
  private readonly opts: PoolOptions;
  private readonly sweeper: NodeJS.Timeout;

  private readonly probeMs: number;

  constructor(
    limits: UpstreamLimits,
    private readonly log: (m: string) => void = () => {},
  ) {
    this.probeMs = limits.probeMs ?? 2_000;
    this.opts = {
      maxConnections: limits.maxConnections,
      keepAliveMs: 4_000,
      connectMs: Math.min(limits.timeoutMs, limits.connectMs),
      headersMs: limits.timeoutMs,
      bodyIdleMs: limits.timeoutMs,
      queueMs: limits.queueMs,
      maxPerClient: limits.maxPerClient,
    };
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  get(backend: Backend): UpstreamPool {
    let pool = this.pools.get(backend.key);
    if (!pool) {
      pool = new UpstreamPool(backend.address, backend.port, this.opts);
      this.pools.set(backend.key, pool);
    }
    return pool;
  }

  /** Requests in flight to a backend (for least-outstanding balancing). */
  inflight(backend: Backend): number {
    return this.pools.get(backend.key)?.inflight ?? 0;
  }

  /** Drops pools of backends no longer routed to; in-flight requests on them finish first (see release()). */
  retain(keys: Set<string>): void {
    for (const [key, pool] of this.pools) {
      if (keys.has(key) || this.pinned.has(key)) continue;
      this.pools.delete(key);
      pool.close();
      if (pool.connections.size > 0) this.draining.add(pool);
      if (pool.waiting().length > 0) void this.release(key, pool);
    }
  }

  /**
   * Requests still waiting for the first byte of their answer from a backend that left routing
   * (issue 14 point 2): the route table cannot tell a task retired by a deploy (alive, stopped only
   * once the proxies acknowledged, and its slow answers must complete) from one whose node was
   * declared lost (frozen: nothing will ever answer, and its requests would wait the full upstream
   * timeout). So the backend is asked: if it answers a ping, its requests are left to finish; if
   * not, those without any byte of answer are failed with UPSTREAM_REMOVED, which forward.ts
   * retries on the current table (safe requests) or answers 502. Responses already under way are
   * never cut here.
   */
  private async release(key: string, pool: UpstreamPool): Promise<void> {
    const alive = await answers(pool.host, pool.port, key, this.probeMs);
    const waiting = pool.waiting();
    if (waiting.length === 0) return;
    if (alive) {
      this.log(`backend ${key} left routing with ${waiting.length} request(s) waiting; it answers, so they may finish`);
      return;
    }
    this.log(`backend ${key} left routing and does not answer: ${waiting.length} request(s) waiting on it are retried or failed`);
    const err = new UpstreamError('UPSTREAM_REMOVED', 'the app instance left routing and does not answer');
    for (const conn of waiting) conn.abandon(err);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const pool of [...this.pools.values(), ...this.draining]) pool.destroy();
    this.pools.clear();
    this.draining.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const pool of this.pools.values()) pool.sweep(now);
    for (const pool of this.draining) {
      pool.sweep(now);
      if (pool.connections.size === 0) this.draining.delete(pool);
    }
  }
}
