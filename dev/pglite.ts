import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * Embedded PostgreSQL for one machine: PGlite with a file-backed data dir, served on a TCP port so
 * the bridge (and so the Neon driver) reaches it like a real server. PGlite runs every connection
 * through one backend, and NOTIFY does not cross connections here: the proxy relies on its epoch poll.
 */
export interface EmbeddedDb {
  port: number;
  close(): Promise<void>;
}

export async function startPglite(dataDir: string): Promise<EmbeddedDb> {
  await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 64 });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  return {
    port,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
