/**
 * The Neon driver set up for Node: Postgres wire protocol over a WebSocket. Locally the WebSocket
 * ends at dev/bridge.ts (a WebSocket-to-TCP bridge in front of Postgres or PGlite); against Neon
 * itself ZECTRE_DB_WS_PROXY is left unset and the driver's defaults (wss to Neon) apply.
 */
import { Client, Pool, neonConfig } from '@neondatabase/serverless';
import ws from 'ws';

export interface DbOptions {
  databaseUrl: string;
  /** "host:port/v2" of a WebSocket-to-TCP bridge; undefined for Neon's own endpoint. */
  wsProxy?: string;
}

export function dbOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DbOptions {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/zectre)');
  return { databaseUrl, wsProxy: env.ZECTRE_DB_WS_PROXY || undefined };
}

function configure(opts: DbOptions): void {
  neonConfig.webSocketConstructor = ws;
  // Measured: coalescing writes makes the driver ~3x slower under Node.
  neonConfig.coalesceWrites = false;
  if (opts.wsProxy) {
    const target = opts.wsProxy;
    neonConfig.wsProxy = () => target;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
}

export function createPool(opts: DbOptions, max = 4): Pool {
  configure(opts);
  return new Pool({ connectionString: opts.databaseUrl, max });
}

/** A single long-lived connection, e.g. for LISTEN. */
export function createClient(opts: DbOptions): Client {
  configure(opts);
  return new Client({ connectionString: opts.databaseUrl });
}
