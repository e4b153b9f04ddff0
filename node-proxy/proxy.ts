/** The proxy: a route table kept fresh from Postgres, and an HTTP server forwarding by Host to healthy tasks. */
import type { DbOptions } from '../sql/connect.js';
import { Balancer } from './balancer.js';
import { forward } from './forward.js';
import { RouteSync } from './route-sync.js';
import { startHttpServer } from './server.js';
import { Upstreams } from './upstreams.js';

export interface ProxyConfig {
  db: DbOptions;
  appsDomain: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** How often the route epoch is polled (the fallback for lost notifications). Default 1000. */
  pollIntervalMs?: number;
  /** Upstream connect/headers/body-idle timeout; past it the client gets 504. Default 60000. */
  upstreamTimeoutMs?: number;
  log?: (m: string) => void;
}

export interface Proxy {
  port: number;
  /** The route epoch of the table being served. */
  epoch(): number;
  close(): Promise<void>;
}

export async function startProxy(cfg: ProxyConfig): Promise<Proxy> {
  const log = cfg.log ?? ((m: string) => console.log(`[proxy] ${m}`));
  const upstreams = new Upstreams(cfg.upstreamTimeoutMs ?? 60_000);
  const routes = new RouteSync({
    db: cfg.db,
    appsDomain: cfg.appsDomain,
    pollIntervalMs: cfg.pollIntervalMs ?? 1_000,
    log,
    onTable: (table) => upstreams.retain(table.backendKeys()),
  });
  await routes.start();
  const deps = { routes: () => routes.current(), balancer: new Balancer(), upstreams, log };
  let server;
  try {
    server = await startHttpServer(cfg.host, cfg.port, (req, res) => forward(deps, req, res), log);
  } catch (err) {
    await routes.close();
    throw err;
  }
  const http = server;
  return {
    port: http.port,
    epoch: () => routes.current().epoch,
    close: async () => {
      await http.close();
      await routes.close();
      await upstreams.close();
    },
  };
}
