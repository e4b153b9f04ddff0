import { startBridge, type Bridge } from './bridge.js';
import { startPglite, type EmbeddedDb } from './pglite.js';
import { createPool, type DbOptions } from '../sql/connect.js';
import { migrate } from '../sql/migrate.js';

export type DatabaseChoice = { kind: 'postgres'; url: string; /** Create it now and drop it on close (tests). */ throwaway?: boolean } | { kind: 'pglite'; dataDir: string };

export interface LocalDatabase {
  kind: DatabaseChoice['kind'];
  /** How Node and the Worker reach it: through the WebSocket bridge, as the Neon driver does. */
  options: DbOptions;
  /** Human description for logs ("PostgreSQL at …", "embedded PGlite in …"). */
  description: string;
  /** Stops the bridge, so the database is unreachable for everyone (outage tests), and starts it again on the same port. */
  pauseBridge(): Promise<void>;
  resumeBridge(): Promise<void>;
  close(): Promise<void>;
}

/** Starts (PGlite) or reaches (PostgreSQL) the database, puts the bridge in front, and migrates it. */
export async function openDatabase(choice: DatabaseChoice): Promise<LocalDatabase> {
  let embedded: EmbeddedDb | undefined;
  let url: string;
  if (choice.kind === 'pglite') {
    embedded = await startPglite(choice.dataDir);
    url = `postgres://postgres@127.0.0.1:${embedded.port}/postgres`;
  } else {
    url = choice.url;
  }
  const target = new URL(url);
  const tcp = { host: target.hostname, port: Number(target.port || 5432) };
  let bridge: Bridge | undefined;
  try {
    const serialize = choice.kind === 'pglite';
    bridge = await startBridge(tcp, 0, serialize);
    const options: DbOptions = { databaseUrl: url, wsProxy: `127.0.0.1:${bridge.port}/v2` };
    const throwaway = choice.kind === 'postgres' && choice.throwaway;
    if (throwaway) await createDatabase(options);
    await migrate(options);
    let b = bridge;
    return {
      kind: choice.kind,
      options,
      description: choice.kind === 'pglite' ? `embedded PGlite in ${choice.dataDir}` : `PostgreSQL at ${target.host}${target.pathname}`,
      pauseBridge: () => b.close(),
      async resumeBridge() {
        b = await startBridge(tcp, b.port, serialize);
      },
      async close() {
        if (throwaway) await dropDatabase(options).catch(() => undefined);
        await b.close();
        await embedded?.close();
      },
    };
  } catch (err) {
    await bridge?.close();
    await embedded?.close();
    throw err;
  }
}

/** Creates the database named in the URL (tests use one database per suite). */
async function createDatabase(options: DbOptions): Promise<void> {
  const url = new URL(options.databaseUrl);
  const name = url.pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`refusing to create database with unusual name ${name}`);
  url.pathname = '/postgres';
  const pool = createPool({ ...options, databaseUrl: url.toString() }, 1);
  try {
    await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await pool.query(`CREATE DATABASE ${name}`);
  } finally {
    await pool.end();
  }
}

async function dropDatabase(options: DbOptions): Promise<void> {
  const url = new URL(options.databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const pool = createPool({ ...options, databaseUrl: url.toString() }, 1);
  try {
    await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await pool.end();
  }
}
