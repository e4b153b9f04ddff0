/**
 * One HTTP server receiving the scheduler's pushes for every simulated node, at
 * `http://127.0.0.1:<port>/<nodeId>` (the local stack allows plain http on loopback). The JWT is
 * decoded, not verified: checking the scheduler's signature is the agent's cost, not the control
 * plane's, and the simulator trusts the Worker it started.
 */
import { createServer, type Server } from 'node:http';
import { decodeJwt } from 'jose';
import { DesiredState, PushBody } from '../protocol/index.js';
import type { SimNode } from './bench-fleet-node.js';

export interface PushServer {
  port: number;
  /** Pushes answered, and refused (bad body, unknown node). */
  counts: { applied: number; refused: number };
  urlFor(nodeId: string): string;
  close(): Promise<void>;
}

export async function startPushServer(nodes: (nodeId: string) => SimNode | undefined): Promise<PushServer> {
  const counts = { applied: 0, refused: 0 };
  const server: Server = createServer((req, res) => {
    const node = nodes(decodeURIComponent((req.url ?? '/').slice(1)));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // A dead node's machine is gone: the connection breaks, as an unreachable host's would.
      if (node && !node.isAlive) return void req.socket.destroy();
      const desired = node && parse(Buffer.concat(chunks).toString('utf8'));
      if (!node || !desired) {
        counts.refused++;
        res.writeHead(node ? 400 : 404, { 'content-type': 'application/json' }).end('{"error":{"code":"refused","message":"bench push refused"}}');
        return;
      }
      counts.applied++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ appliedGeneration: node.apply(desired) }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    counts,
    urlFor: (nodeId) => `http://127.0.0.1:${port}/${nodeId}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parse(text: string): DesiredState | undefined {
  try {
    const body = PushBody.safeParse(JSON.parse(text));
    if (!body.success) return undefined;
    const desired = DesiredState.safeParse(decodeJwt(body.data.token).desired);
    return desired.success ? desired.data : undefined;
  } catch {
    return undefined;
  }
}
