/**
 * The admin listener, on its own port (never the public one): `GET /metrics` in Prometheus text and
 * `GET /health` with the served epoch. Plain node:http: it serves a scraper, not user traffic.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyMetrics } from './metrics.js';

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

export async function startAdminServer(host: string, port: number, metrics: ProxyMetrics, health: () => object): Promise<AdminServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(metrics.registry.metrics());
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health()));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'the admin port serves GET /metrics and GET /health' } }));
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
