import { Pool } from 'undici';
import type { Backend } from './route-table.js';

/** One keep-alive undici Pool per backend, created on first use and closed when the backend leaves the table. */
export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  /** Backends outside the route table (the local agent) whose pools retain() keeps. */
  readonly pinned = new Set<string>();

  constructor(private readonly timeoutMs: number) {}

  get(backend: Backend): Pool {
    let pool = this.pools.get(backend.key);
    if (!pool) {
      pool = new Pool(`http://${backend.key}`, {
        connections: 128,
        keepAliveTimeout: 4_000,
        connect: { timeout: Math.min(this.timeoutMs, 5_000) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      this.pools.set(backend.key, pool);
    }
    return pool;
  }

  /** Drops pools of backends no longer routed to; in-flight requests on them finish first. */
  retain(keys: Set<string>): void {
    for (const [key, pool] of this.pools) {
      if (keys.has(key) || this.pinned.has(key)) continue;
      this.pools.delete(key);
      pool.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }
}
