/**
 * Keeps the route table fresh: a full load at start, then reloads on NOTIFY zectre_routes and on
 * an epoch poll (the fallback where notifications never arrive, e.g. PGlite). The table is only
 * ever replaced whole, so requests see either the old or the new one. When the database goes
 * away the last-known table keeps serving and this reconnects by itself.
 */
import type { Client, Pool } from '@neondatabase/serverless';
import { createClient, createPool, type DbOptions } from '../sql/connect.js';
import { Coalescer } from './coalescer.js';
import { loadRouteRows, readEpoch, type RouteRows } from './route-queries.js';
import type { RouteSnapshot } from './route-snapshot.js';
import { buildRouteTable, type RouteTable } from './route-table.js';

export const ROUTES_CHANNEL = 'zectre_routes';
const QUERY_TIMEOUT_MS = 10_000;
/** Ending a connection that is mid-connect can wait forever on the driver's 'end' event: don't. */
const CLOSE_TIMEOUT_MS = 2_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;

export interface RouteSyncOptions {
  db: DbOptions;
  appsDomain: string;
  pollIntervalMs: number;
  log: (m: string) => void;
  onTable: (table: RouteTable) => void;
  /** Where the last routes are kept, to start from when the database is unreachable; none when undefined. */
  snapshot?: RouteSnapshot;
}

export class RouteSync {
  private readonly pool: Pool;
  private table!: RouteTable;
  private readonly reloads = new Coalescer(() => this.loadOnce(), () => this.closed);
  private polling = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private listener: Client | null = null;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs = BACKOFF_MIN_MS;
  private dbDown = false;
  /** Serving routes read from disk: the first answer of the database reloads, whatever its epoch. */
  private fromDisk = false;
  private closed = false;

  constructor(private readonly opts: RouteSyncOptions) {
    this.pool = createPool(opts.db, 2);
    // An idle pooled connection that dies emits 'error'; unhandled, that would kill the process.
    // It is not an outage by itself (servers drop idle connections): the next poll tells.
    this.pool.on('error', () => {});
  }

  /**
   * Loads the first table, then starts listening and polling. With the database unreachable it
   * starts from the routes saved on disk, saying so, or fails loudly when there are none.
   */
  async start(): Promise<RouteTable> {
    try {
      this.setRows(await withTimeout(loadRouteRows(this.pool), 'loading routes'));
    } catch (err) {
      if (!this.startFromDisk(err as Error)) {
        await withTimeout(Promise.resolve().then(() => this.pool.end()), 'closing the pool', CLOSE_TIMEOUT_MS).catch(() => {});
        const none = this.opts.snapshot ? ` (and no routes saved in ${this.opts.snapshot.file})` : '';
        throw new Error(`node-proxy: cannot load routes from the database at startup${none}: ${(err as Error).message}`);
      }
    }
    await this.listen(false);
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollIntervalMs);
    this.pollTimer.unref();
    return this.table;
  }

  current(): RouteTable {
    return this.table;
  }

  /** Coalesces triggers: while a reload runs, any number of new triggers cause exactly one more. */
  reload(): Promise<void> {
    return this.reloads.trigger();
  }

  private async loadOnce(): Promise<boolean> {
    try {
      this.setRows(await withTimeout(loadRouteRows(this.pool), 'loading routes'));
      if (this.fromDisk) this.opts.log(`routes loaded from the database (epoch ${this.table.epoch}); the saved routes are no longer served`);
      this.fromDisk = false;
      this.markUp();
      return true;
    } catch (err) {
      this.markDown(err as Error);
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    await this.reloads.running();
    await this.opts.snapshot?.flushed();
    const listener = this.listener;
    this.listener = null;
    // end() on a connection still opening can throw synchronously ("WebSocket is not open"): defer it into a promise.
    await Promise.allSettled(
      [() => listener?.end(), () => this.pool.end()].map((end) =>
        withTimeout(Promise.resolve().then(end), 'closing connections', CLOSE_TIMEOUT_MS),
      ),
    );
  }

  private startFromDisk(err: Error): boolean {
    let saved;
    try {
      saved = this.opts.snapshot?.load();
    } catch (readErr) {
      this.opts.log(`cannot read the saved routes in ${this.opts.snapshot!.file}: ${(readErr as Error).message}`);
    }
    if (!saved) return false;
    this.setTable(buildRouteTable({ ...saved.rows, appsDomain: this.opts.appsDomain }));
    this.fromDisk = true;
    this.dbDown = true;
    this.opts.log(
      `route database unreachable at startup (${err.message}): serving the routes saved at ${saved.savedAt} ` +
        `(epoch ${saved.rows.epoch}, ${this.table.hostCount} hosts) from ${this.opts.snapshot!.file} until it answers`,
    );
    return true;
  }

  private setRows(rows: RouteRows): void {
    if (this.closed) return;
    const previous = this.table?.epoch;
    this.setTable(buildRouteTable({ ...rows, appsDomain: this.opts.appsDomain }));
    if (previous !== rows.epoch || this.fromDisk) this.opts.snapshot?.save(rows, this.opts.log);
  }

  private setTable(table: RouteTable): void {
    if (this.closed) return;
    const previous = this.table?.epoch;
    this.table = table;
    this.opts.onTable(table);
    if (previous !== undefined && previous !== table.epoch) {
      this.opts.log(`routes reloaded: epoch ${previous} -> ${table.epoch}, ${table.hostCount} hosts`);
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.reloads.running() || this.closed) return;
    this.polling = true;
    try {
      const epoch = await withTimeout(readEpoch(this.pool), 'reading the route epoch');
      this.markUp();
      if (epoch !== this.table.epoch || this.fromDisk) await this.reload();
    } catch (err) {
      this.markDown(err as Error);
    } finally {
      this.polling = false;
    }
  }

  /** One dedicated connection for LISTEN; on any failure it is dropped and re-made with backoff. */
  private async listen(catchUp: boolean): Promise<void> {
    if (this.closed) return;
    const client = createClient(this.opts.db);
    this.listener = client;
    let failed = false;
    const fail = (err: Error) => {
      if (failed || this.listener !== client) return;
      failed = true;
      this.listener = null;
      this.markDown(err);
      Promise.resolve().then(() => client.end()).catch(() => {});
      this.scheduleListen();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('LISTEN connection closed')));
    client.on('notification', (msg) => {
      if (msg.channel !== ROUTES_CHANNEL) return;
      // The payload is the new epoch; a stale or duplicate one needs no reload.
      if (Number(msg.payload) !== this.table.epoch) void this.reload();
    });
    try {
      await withTimeout(client.connect(), 'connecting the LISTEN client');
      await withTimeout(client.query(`LISTEN ${ROUTES_CHANNEL}`), 'LISTEN');
      if (this.closed) {
        // close() ran while we were connecting.
        Promise.resolve().then(() => client.end()).catch(() => {});
        return;
      }
      this.backoffMs = BACKOFF_MIN_MS;
      // Notifications sent while we were not listening are lost: catch up.
      if (catchUp) void this.reload();
    } catch (err) {
      fail(err as Error);
    }
  }

  private scheduleListen(): void {
    if (this.closed) return;
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(() => void this.listen(true), delay);
    this.reconnectTimer.unref();
  }

  /** Logs an outage once, not once per failed poll. */
  private markDown(err: Error): void {
    if (this.closed || this.dbDown) return;
    this.dbDown = true;
    this.opts.log(`route database unreachable, serving last-known routes (epoch ${this.table?.epoch}): ${err.message}`);
  }

  private markUp(): void {
    if (!this.dbDown || this.closed) return;
    this.dbDown = false;
    this.opts.log('route database reachable again');
  }
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = QUERY_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out ${what} after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
