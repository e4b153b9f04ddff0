/**
 * Entry point: `node --max-semi-space-size=4 --import tsx node-proxy/main.ts`, with the environment
 * launch.ts gives (glibc malloc padding).
 * Configured by environment variables (README.md).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dbOptionsFromEnv } from '../sql/connect.js';
import { checkCertKey } from './acme/store.js';
import { startProxy, type ProxyConfig } from './proxy.js';
import { defaultStateDir } from './route-snapshot.js';
import { certificatesFromDir } from './tls.js';
import { parseTrustedProxies } from './trusted-proxies.js';

function configFromEnv(env: NodeJS.ProcessEnv): ProxyConfig {
  const appsDomain = env.ZECTRE_APPS_DOMAIN || 'zectre.localhost';
  const host = env.ZECTRE_PROXY_HOST || '127.0.0.1';
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`node-proxy: ${name} must be a non-negative integer, got ${raw}`);
    return n;
  };
  const positive = (name: string, fallback: number) => {
    const n = num(name, fallback);
    if (n === 0) throw new Error(`node-proxy: ${name} must be at least 1`);
    return n;
  };
  const tlsDir = env.ZECTRE_PROXY_TLS_DIR;
  const certKey = env.ZECTRE_CERT_KEY ? checkCertKey(env.ZECTRE_CERT_KEY) : undefined;
  const directoryUrl = env.ZECTRE_ACME_DIRECTORY;
  if (directoryUrl && !certKey) throw new Error('node-proxy: ZECTRE_ACME_DIRECTORY needs ZECTRE_CERT_KEY (base64 of 32 bytes, the same on every proxy) to encrypt the keys it gets');
  return {
    db: dbOptionsFromEnv(env),
    appsDomain,
    host,
    port: num('ZECTRE_PROXY_PORT', 8080),
    // Custom domains' certificates come from the database: a proxy with the key serves HTTPS even without files.
    tls: tlsDir || certKey
      ? {
          port: num('ZECTRE_PROXY_TLS_PORT', 8443),
          certificates: tlsDir ? certificatesFromDir(tlsDir) : [],
          redirectHttp: env.ZECTRE_PROXY_REDIRECT_HTTP === '1',
          publicPort: num('ZECTRE_PROXY_TLS_PUBLIC_PORT', num('ZECTRE_PROXY_TLS_PORT', 8443)),
        }
      : undefined,
    acme: certKey
      ? {
          certKey,
          issuer: directoryUrl
            ? { directoryUrl, email: env.ZECTRE_ACME_EMAIL || undefined, directoryCa: env.ZECTRE_ACME_CA_FILE ? readFileSync(env.ZECTRE_ACME_CA_FILE, 'utf8') : undefined }
            : undefined,
        }
      : undefined,
    admin: env.ZECTRE_PROXY_ADMIN_PORT ? { host: env.ZECTRE_PROXY_ADMIN_HOST || '127.0.0.1', port: num('ZECTRE_PROXY_ADMIN_PORT', 0) } : undefined,
    agentPush: env.ZECTRE_PROXY_AGENT_URL ? { agentUrl: env.ZECTRE_PROXY_AGENT_URL, nodeId: env.ZECTRE_PROXY_NODE_ID || undefined } : undefined,
    id: env.ZECTRE_PROXY_ID || undefined,
    accessLog: env.ZECTRE_PROXY_ACCESS_LOG === '1',
    trustedProxies: parseTrustedProxies(env.ZECTRE_PROXY_TRUSTED_PROXIES),
    upstreamConnections: positive('ZECTRE_PROXY_UPSTREAM_CONNECTIONS', 128),
    queueTimeoutMs: num('ZECTRE_PROXY_QUEUE_TIMEOUT_MS', 10_000),
    maxPerClient: positive('ZECTRE_PROXY_MAX_PER_CLIENT', 32),
    bodyWindowMs: positive('ZECTRE_PROXY_BODY_WINDOW_MS', 10_000),
    minBodyRate: num('ZECTRE_PROXY_MIN_BODY_RATE', 1024),
    upstreamTimeoutMs: positive('ZECTRE_PROXY_UPSTREAM_TIMEOUT_MS', 60_000),
    connectTimeoutMs: positive('ZECTRE_PROXY_CONNECT_TIMEOUT_MS', 3_000),
    failoverTimeoutMs: positive('ZECTRE_PROXY_FAILOVER_TIMEOUT_MS', 10_000),
    ejectAfter: positive('ZECTRE_PROXY_EJECT_AFTER', 3),
    ejectMs: num('ZECTRE_PROXY_EJECT_MS', 30_000),
    stateDir: env.ZECTRE_PROXY_STATE_DIR || defaultStateDir(homedir()),
    shutdownGraceMs: num('ZECTRE_PROXY_SHUTDOWN_GRACE_MS', 30_000),
    websocketDrainMs: num('ZECTRE_PROXY_WS_DRAIN_MS', 10_000),
  };
}

try {
  const cfg = configFromEnv(process.env);
  const proxy = await startProxy(cfg);
  const extras = [
    proxy.tlsPort !== null ? `https on ${proxy.tlsPort}` : '',
    proxy.adminPort !== null ? `admin on ${proxy.adminPort}` : '',
  ].filter(Boolean);
  console.log(`proxy ready on http://${cfg.host}:${proxy.port} (apps domain ${cfg.appsDomain}${extras.length ? `; ${extras.join(', ')}` : ''})`);
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    proxy.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`proxy: error while closing: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  // Print whatever came, Error or not.
  console.error(`node-proxy: failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
