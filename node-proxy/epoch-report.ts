/**
 * Tells the control plane which route epoch this proxy serves (issue 4, point 7): one row in
 * `proxies`, written as soon as a new table is in place and refreshed every HEARTBEAT_MS so the
 * scheduler knows the proxy is alive. A cutover stops old tasks only once every live proxy's row
 * shows the new epoch. On close the row is deleted, so nobody waits for a proxy that left.
 */
import type { Pool } from '@neondatabase/serverless';
import { createPool, type DbOptions } from '../sql/connect.js';
import { Coalescer } from './coalescer.js';

/** Must stay well below the scheduler's liveness window (edge/scheduler/retire.ts PROXY_LIVENESS_MS). */
export const HEARTBEAT_MS = 2_000;
const UPSERT = `INSERT INTO proxies (id, epoch, last_seen_at) VALUES ($1, $2, now())
  ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch, last_seen_at = now()`;

export class EpochReporter {
  private readonly pool: Pool;
  private timer: NodeJS.Timeout | undefined;
  private epoch = 0;
  private readonly writes = new Coalescer(() => this.writeOnce(), () => this.closed);
  private closed = false;

  constructor(
    db: DbOptions,
    readonly id: string,
    private readonly onReported: (epoch: number) => void = () => {},
  ) {
    this.pool = createPool(db, 1);
    this.pool.on('error', () => {});
  }

  start(epoch: number): void {
    this.served(epoch);
    this.timer = setInterval(() => void this.write(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Call after a table with `epoch` is serving requests. */
  served(epoch: number): void {
    this.epoch = epoch;
    void this.write();
  }

  /** Coalesced: one write at a time, and one more if the epoch moved meanwhile. Failures wait for the next beat. */
  private write(): Promise<void> {
    return this.writes.trigger();
  }

  private async writeOnce(): Promise<boolean> {
    const epoch = this.epoch;
    try {
      await this.pool.query(UPSERT, [this.id, epoch]);
      this.onReported(epoch);
      return true;
    } catch {
      return false; // the database is down: route-sync logs the outage; the heartbeat retries
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await bounded(() => this.writes.running());
    await bounded(() => this.pool.query('DELETE FROM proxies WHERE id = $1', [this.id]));
    await bounded(() => this.pool.end());
  }
}

/** Closing must not hang on an unreachable database, nor throw: end() on a connection still opening throws synchronously. */
function bounded(step: () => unknown): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, 2_000)));
  return Promise.race([Promise.resolve().then(step), timeout]).catch(() => {}).finally(() => clearTimeout(timer));
}
