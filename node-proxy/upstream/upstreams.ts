import type { Backend } from '../route-table.js';
import { UpstreamPool, type PoolOptions } from './pool.js';

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

  constructor(limits: UpstreamLimits) {
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

  /** Drops pools of backends no longer routed to; in-flight requests on them finish first. */
  retain(keys: Set<string>): void {
    for (const [key, pool] of this.pools) {
      if (keys.has(key) || this.pinned.has(key)) continue;
      this.pools.delete(key);
      pool.close();
      if (pool.connections.size > 0) this.draining.add(pool);
    }
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
