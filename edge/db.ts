import { DatabaseError, Pool, neonConfig, type PoolClient } from '@neondatabase/serverless';
import type { Env } from './env.js';

/**
 * A request's pool (workerd forbids sharing I/O objects across a Worker's requests; ended by the
 * caller), or a Durable Object's, kept for its lifetime. `max` stays small: connections are the
 * scarce resource at fleet scale (see docs/decisions.md).
 */
export function createPool(env: Env, max = 2, idleTimeoutMillis?: number): Pool {
  if (env.DB_WS_PROXY) {
    const target = env.DB_WS_PROXY;
    neonConfig.wsProxy = () => target;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
  const pool = new Pool({ connectionString: env.DATABASE_URL, max, ...(idleTimeoutMillis ? { idleTimeoutMillis } : {}) });
  // An idle connection that breaks (database restarted, unreachable) is dropped and reopened by the
  // next query; unhandled, the error would be an uncaught exception (and reset a Durable Object).
  pool.on('error', (err: Error) => console.warn(`database connection dropped: ${err.message}`));
  return pool;
}

export type Db = Pool;
export type Tx = PoolClient;

/**
 * PostgreSQL aborts one side of a deadlock (40P01) or of a serialization conflict (40001); the
 * transaction is safe to run again from the start, so it is, a few times with jittered backoff.
 */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 4;

export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && RETRYABLE.has((err as { code?: string }).code ?? '');
}

/** Runs fn in one transaction; fn may run more than once, so it must not act outside the database. */
export async function transaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactionOnce(db, fn);
    } catch (err) {
      if (!isRetryable(err) || attempt === ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}

async function transactionOnce<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The database could not be reached (refused, reset, closed, timed out): the driver's errors for a
 * connection, as opposed to PostgreSQL's own, which are DatabaseErrors with a SQLSTATE code.
 */
export function isConnectionFailure(err: unknown): boolean {
  // In workerd a dropped WebSocket surfaces as an ErrorEvent, not an Error.
  if (typeof err !== 'object' || err === null || err instanceof DatabaseError) return false;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && /connect|connection|websocket|socket|terminated|ECONNRESET|ECONNREFUSED|ETIMEDOUT|network|closed/i.test(message);
}

/** Serialises scheduler decisions (placement, cutover, sweeps) across concurrent requests. */
export async function lockScheduler(tx: Tx): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(7357002)');
}

/** Every routing change bumps the epoch in its own transaction and notifies proxies. */
export async function bumpRouteEpoch(tx: Tx): Promise<number> {
  const { rows } = await tx.query('UPDATE route_epoch SET epoch = epoch + 1 RETURNING epoch');
  const epoch = Number(rows[0].epoch);
  await tx.query("SELECT pg_notify('zectre_routes', $1)", [String(epoch)]);
  return epoch;
}
