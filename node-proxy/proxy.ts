/** The proxy: a route table kept fresh from Postgres, and HTTP(S) servers forwarding by Host to healthy tasks. */
import { hostname } from 'node:os';
import { createPool, type DbOptions } from '../sql/connect.js';
import { startAdminServer, type AdminServer } from './admin.js';
import { answerChallenge, isChallengeRequest } from './acme/challenges.js';
import { DomainCertificates } from './acme/certs.js';
import { Issuer, type IssuerConfig } from './acme/issuer.js';
import { AcmeStore, type StoredCertificate } from './acme/store.js';
import { AgentPush, type AgentPushConfig } from './agent-push.js';
import { Balancer } from './balancer.js';
import { EpochReporter } from './epoch-report.js';
import { forward, routeUpgrade, type ForwarderDeps, type Inbound, type Outbound } from './forward.js';
import { ProxyMetrics } from './metrics.js';
import { RouteSnapshot, Snapshot } from './route-snapshot.js';
import { RouteSync } from './route-sync.js';
import { startHttpServer, type HttpServer, type ServerOptions } from './server.js';
import type { TlsCertificate } from './tls.js';
import { TrustedProxies } from './trusted-proxies.js';
import { Upstreams } from './upstream/upstreams.js';
import { WebSockets } from './websocket.js';

export interface ProxyConfig {
  db: DbOptions;
  appsDomain: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** How often the route epoch is polled (the fallback for lost notifications). Default 1000. */
  pollIntervalMs?: number;
  /** Upstream headers/body-idle timeout; past it the client gets 504. Default 60000. */
  upstreamTimeoutMs?: number;
  /** Upstream connect timeout. Default 3000. */
  connectTimeoutMs?: number;
  /** The shorter wait for the head of a GET/HEAD when another backend could answer it (then retried there). Default 10000. */
  failoverTimeoutMs?: number;
  /** Passive health: consecutive connect failures/timeouts that eject a backend (default 3), and for how long (default 30000). */
  ejectAfter?: number;
  ejectMs?: number;
  /** A backend that left routing with requests waiting on it gets this long to answer a ping, else they are retried or failed. Default 2000. */
  removedProbeMs?: number;
  /** Connections to each backend. Default 128. */
  upstreamConnections?: number;
  /** A request waiting this long for a free connection to its backend gets 503 with Retry-After. Default 10000. */
  queueTimeoutMs?: number;
  /** Requests one client address may have sent or queued to one backend at once; more get 429. Default 32. */
  maxPerClient?: number;
  /** Uploads: in every window of this many ms the client must send `minBodyRate` bytes/s, else 408. Default 10000. */
  bodyWindowMs?: number;
  /** Default 1024. */
  minBodyRate?: number;
  /** IPs/CIDRs of proxies in front whose X-Forwarded-* headers are believed. Default none. */
  trustedProxies?: string[];
  /** close(): how long in-flight requests may take to finish before connections are cut. Default 30000. */
  shutdownGraceMs?: number;
  /** WebSockets to a backend that left the route table stay open this long, then get 1001. Default 10000. */
  websocketDrainMs?: number;
  /** Directory where the last routes and custom domains' certificates are kept (route-snapshot.ts); none when undefined. */
  stateDir?: string;
  /** Default 1 GiB; bigger bodies get 413. */
  maxBodyBytes?: number;
  /** Default 32 KiB; more header bytes get 431. */
  maxHeaderBytes?: number;
  /** HTTPS listener: the first certificate is the default, the others are chosen by SNI. */
  tls?: { port: number; certificates: TlsCertificate[]; redirectHttp?: boolean; publicPort?: number };
  /** Custom domains (acme/): certificates from the database, and the ACME issuer when `issuer` is set. */
  acme?: { certKey: string; issuer?: Omit<IssuerConfig, 'holder'> };
  /** Admin listener (/metrics, /health); off when undefined. */
  admin?: { host: string; port: number };
  /** Forwarding of `<node>.nodes.<domain>` pushes to the local agent; off when undefined. */
  agentPush?: Omit<AgentPushConfig, 'appsDomain'>;
  /** Reported in the `proxies` table; default `<hostname>:<port>`. */
  id?: string;
  /** One line per request on the log; default off. */
  accessLog?: boolean;
  log?: (m: string) => void;
}

export interface Proxy {
  port: number;
  tlsPort: number | null;
  adminPort: number | null;
  id: string;
  /** The route epoch of the table being served. */
  epoch(): number;
  close(): Promise<void>;
}

export async function startProxy(cfg: ProxyConfig): Promise<Proxy> {
  const log = cfg.log ?? ((m: string) => console.log(`[proxy] ${m}`));
  const metrics = new ProxyMetrics();
  const upstreams = new Upstreams({
    timeoutMs: cfg.upstreamTimeoutMs ?? 60_000,
    connectMs: cfg.connectTimeoutMs ?? 3_000,
    maxConnections: cfg.upstreamConnections ?? 128,
    queueMs: cfg.queueTimeoutMs ?? 10_000,
    maxPerClient: cfg.maxPerClient ?? 32,
    probeMs: cfg.removedProbeMs,
  }, log);
  const trustedProxies = cfg.trustedProxies?.length ? new TrustedProxies(cfg.trustedProxies) : null;
  const balancer = new Balancer(2_000, (b) => upstreams.inflight(b), cfg.ejectAfter ?? 3, cfg.ejectMs ?? 30_000, log);
  const websockets = new WebSockets(cfg.websocketDrainMs ?? 10_000, (d) => metrics.websocketCount(d), log);
  let reporter: EpochReporter | null = null;
  const acmePool = cfg.acme ? createPool(cfg.db, 2) : null;
  acmePool?.on('error', () => {});
  const acmeStore = acmePool ? new AcmeStore(acmePool, cfg.acme!.certKey) : null;
  const certSnapshot = cfg.stateDir ? new Snapshot<StoredCertificate[]>(cfg.stateDir, 'certificates', cfg.db.databaseUrl, cfg.appsDomain) : undefined;
  const domainCerts = acmeStore ? new DomainCertificates(acmeStore, log, certSnapshot) : null;
  let issuer: Issuer | null = null;
  const routes = new RouteSync({
    db: cfg.db,
    appsDomain: cfg.appsDomain,
    pollIntervalMs: cfg.pollIntervalMs ?? 1_000,
    log,
    snapshot: cfg.stateDir ? new RouteSnapshot(cfg.stateDir, cfg.db.databaseUrl, cfg.appsDomain) : undefined,
    onTable: (table) => {
      const keys = table.backendKeys();
      upstreams.retain(keys);
      balancer.retain(keys);
      websockets.retain(keys);
      metrics.routesLoaded(table.epoch);
      // Reported only after the table is in place: the acknowledgement means "serving it".
      reporter?.served(table.epoch);
      // Certificates and domains change with the route epoch (migration 011).
      void domainCerts?.refresh();
      void issuer?.wake();
    },
  });
  await routes.start();
  await domainCerts?.refresh();
  const agentPush = cfg.agentPush ? new AgentPush({ ...cfg.agentPush, appsDomain: cfg.appsDomain }) : null;
  if (agentPush) upstreams.pinned.add(agentPush.backendKey);
  const deps: ForwarderDeps = {
    routes: () => routes.current(),
    balancer,
    upstreams,
    agentPush,
    trustedProxies,
    maxHeaderBytes: cfg.maxHeaderBytes ?? 32 * 1024,
    httpsRedirectPort: cfg.tls?.redirectHttp ? (cfg.tls.publicPort ?? cfg.tls.port) : null,
    failoverHeadersMs: cfg.failoverTimeoutMs ?? 10_000,
    onUpstreamError: (code) => metrics.upstreamError(code),
    log,
  };
  const handle = (req: Inbound, res: Outbound) =>
    acmeStore && isChallengeRequest(req) ? answerChallenge(acmeStore, req, res, log) : measured(metrics, cfg.accessLog ? log : null, req, res, deps);
  const common: Omit<ServerOptions, 'port' | 'proto'> = {
    host: cfg.host,
    maxBodyBytes: cfg.maxBodyBytes ?? 1024 * 1024 * 1024,
    maxHeaderBytes: deps.maxHeaderBytes,
    bodyWindowMs: cfg.bodyWindowMs ?? 10_000,
    minBodyRate: cfg.minBodyRate ?? 1024,
    handle,
    upgrade: (req) => routeUpgrade(deps, req),
    websockets,
    log,
  };
  const servers: HttpServer[] = [];
  let admin: AdminServer | null = null;
  const stopAll = async () => {
    // Stop accepting and drain in-flight requests first; the route table serves them meanwhile.
    websockets.close();
    await Promise.allSettled(servers.map((s) => s.close(cfg.shutdownGraceMs ?? 30_000)));
    await admin?.close();
    await reporter?.close();
    await issuer?.close();
    await domainCerts?.close();
    await routes.close();
    await acmePool?.end().catch(() => {});
    await upstreams.close();
  };
  try {
    const plain = await startHttpServer({ ...common, port: cfg.port, proto: 'http' });
    servers.push(plain);
    const secure = cfg.tls ? await startHttpServer({ ...common, port: cfg.tls.port, proto: 'https', certificates: cfg.tls.certificates, domainCertificates: domainCerts ? (name) => domainCerts.get(name) : undefined }) : null;
    if (secure) servers.push(secure);
    const id = cfg.id ?? `${hostname()}:${plain.port}`;
    reporter = new EpochReporter(cfg.db, id);
    reporter.start(routes.current().epoch);
    if (acmeStore && cfg.acme!.issuer) {
      issuer = new Issuer({ ...cfg.acme!.issuer, holder: id }, acmeStore, log);
      issuer.start();
    }
    if (cfg.admin) {
      admin = await startAdminServer(cfg.admin.host, cfg.admin.port, metrics, () => ({ ok: true, id, epoch: routes.current().epoch }));
    }
    return { port: plain.port, tlsPort: secure?.port ?? null, adminPort: admin?.port ?? null, id, epoch: () => routes.current().epoch, close: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Forwards one request, then counts, times and (optionally) logs it. */
async function measured(metrics: ProxyMetrics, accessLog: ((m: string) => void) | null, req: Inbound, res: Outbound, deps: ForwarderDeps): Promise<void> {
  const start = performance.now();
  try {
    await forward(deps, req, res);
  } finally {
    const ms = performance.now() - start;
    const status = res.status || 500;
    metrics.request(status, ms / 1000);
    if (accessLog) {
      accessLog(`${req.remoteAddress} "${req.method} ${req.headers.host ?? '-'}${req.url}" ${status} ${ms.toFixed(1)}ms ${req.headers['x-request-id'] ?? '-'}`);
    }
  }
}
