/**
 * One proxied request: route by Host, pick a backend, forward with undici, answer the client.
 * Written against the small Inbound/Outbound interfaces so the HTTP server library stays in server.ts.
 */
import type { Readable } from 'node:stream';
import { errorBody } from '../protocol/index.js';
import type { AgentPush } from './agent-push.js';
import type { Balancer } from './balancer.js';
import { plainAddress, upstreamRequestHeaders } from './headers.js';
import { normalizeHost, type Backend, type RouteTable, type Target } from './route-table.js';
import type { UpstreamRequest } from './upstream/connection.js';
import { exchange } from './upstream/exchange.js';
import { requestHead } from './upstream/request-head.js';
import type { Upstreams } from './upstream/upstreams.js';
import type { UpgradeRoute } from './websocket.js';

export const HEALTH_PATH = '/__zectre/health';
/** Request bodies up to this size are buffered (which makes retries possible). */
export const SMALL_BODY = 64 * 1024;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Failures where the backend never got the request (or lost it on a stale keep-alive socket). */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UPSTREAM_CONNECT_TIMEOUT']);
const TIMEOUT_ERRORS = new Set(['UPSTREAM_CONNECT_TIMEOUT', 'UPSTREAM_HEADERS_TIMEOUT', 'UPSTREAM_BODY_TIMEOUT']);

export type HeaderList = [string, string | string[]][];

export interface Inbound {
  method: string;
  /** Path and query, as received. */
  url: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  remoteAddress: string;
  /** The scheme the client used to reach this proxy. */
  proto: 'http' | 'https';
  readBody(): Promise<Buffer>;
  streamBody(): Readable;
  onAbort(handler: () => void): void;
}

export interface Outbound {
  /** The status sent so far (0: nothing yet). */
  readonly status: number;
  /** Ends the response in one write; `declaredLength` is what HEAD/304 answers report. */
  send(status: number, headers: HeaderList, body?: Buffer, declaredLength?: number): void;
  /** Streams a body; resolves when done. `length` keeps Content-Length instead of chunked encoding. */
  stream(status: number, headers: HeaderList, body: Readable, length?: number): Promise<void>;
}

export interface ForwarderDeps {
  routes: () => RouteTable;
  balancer: Balancer;
  upstreams: Upstreams;
  agentPush: AgentPush | null;
  /** Requests with more header bytes (names + values) get 431. */
  maxHeaderBytes: number;
  /** When set, plain-HTTP requests for apps are redirected to HTTPS on this public port. */
  httpsRedirectPort: number | null;
  onUpstreamError: (code: string) => void;
  log: (m: string) => void;
}

export async function forward(deps: ForwarderDeps, req: Inbound, res: Outbound): Promise<void> {
  if (req.path === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
    return sendJson(res, 200, { ok: true, epoch: deps.routes().epoch });
  }
  if (headerBytes(req.headers) > deps.maxHeaderBytes) {
    return sendJson(res, 431, errorBody('headers_too_large', `request headers exceed ${deps.maxHeaderBytes} bytes`));
  }
  const hostHeader = req.headers.host ?? '';
  const host = normalizeHost(hostHeader);
  const push = deps.agentPush?.decide(host, req.method, req.path);
  if (push && 'refuse' in push) return sendJson(res, 404, errorBody('not_found', push.refuse));
  const target = push ? push.target : deps.routes().lookup(hostHeader, req.url);
  if (!target) return sendJson(res, 404, errorBody('unknown_host', `no app is served at ${host}`));
  if (!push && req.proto === 'http' && deps.httpsRedirectPort !== null) return redirectToHttps(res, host, req.url, deps.httpsRedirectPort);
  if (target.backends.length === 0) return noHealthyBackend(res);

  const headers = upstreamRequestHeaders(req.headers, {
    host: hostHeader,
    remoteAddress: plainAddress(req.remoteAddress),
    proto: req.proto,
  });
  // uWS has already answered any 100-continue itself.
  delete headers.expect;

  let body: Buffer | Readable | undefined;
  let chunked = false;
  let retryable = IDEMPOTENT.has(req.method);
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > 0 && length <= SMALL_BODY) {
    body = await req.readBody();
    headers['content-length'] = String(body.length);
  } else if (length > 0 || req.headers['transfer-encoding']) {
    // A streamed body can be sent once only.
    body = req.streamBody();
    retryable = false;
    if (!(length > 0)) {
      delete headers['content-length'];
      headers['transfer-encoding'] = 'chunked';
      chunked = true;
    }
  }

  const request: UpstreamRequest = {
    method: req.method,
    head: requestHead(req.method, req.url, headers),
    body,
    chunked,
    length: chunked ? undefined : length,
    retryable,
  };
  let backend = deps.balancer.pick(target);
  for (let attempt = 0; backend; attempt++) {
    const result = await exchange(deps.upstreams.get(backend), request, res, req, deps.log);
    if (result.done) {
      deps.balancer.markOk(backend);
      return;
    }
    const code = errorCode(result.error);
    deps.onUpstreamError(code);
    const next = nextBackend(deps, target, backend, code, retryable && attempt === 0);
    if (!next) return upstreamFailed(deps, res, backend, code, result.error);
    backend = next;
  }
}

/** After a connect failure: penalise the backend and, when allowed, name another one to retry on. */
function nextBackend(
  deps: ForwarderDeps,
  target: Target,
  failed: Backend,
  code: string,
  mayRetry: boolean,
): Backend | undefined {
  if (!CONNECT_ERRORS.has(code)) return undefined;
  deps.balancer.markFailed(failed);
  return mayRetry ? deps.balancer.pick(target, failed) : undefined;
}

/** Internal addresses go to the log, not to the public error body. */
function upstreamFailed(deps: ForwarderDeps, res: Outbound, backend: Backend, code: string, err: unknown): void {
  deps.log(`upstream ${backend.key} failed: ${code} ${(err as Error).message}`);
  if (TIMEOUT_ERRORS.has(code)) {
    return sendJson(res, 504, errorBody('gateway_timeout', 'the app did not answer in time'));
  }
  sendJson(res, 502, errorBody('bad_gateway', `the app could not be reached (${code})`));
}

/** Routing for a WebSocket upgrade: the same host lookup and balancing as a request. */
export function routeUpgrade(deps: ForwarderDeps, req: Inbound): UpgradeRoute {
  const hostHeader = req.headers.host ?? '';
  const target = deps.routes().lookup(hostHeader, req.url);
  if (!target) return { status: 404, code: 'unknown_host', message: `no app is served at ${normalizeHost(hostHeader)}` };
  const backend = deps.balancer.pick(target);
  if (!backend) return { status: 503, code: 'no_healthy_backend', message: 'the app has no healthy instance right now' };
  const headers = upstreamRequestHeaders(req.headers, { host: hostHeader, remoteAddress: plainAddress(req.remoteAddress), proto: req.proto });
  return { backend, headers };
}

function headerBytes(headers: Record<string, string>): number {
  let n = 0;
  for (const name in headers) n += name.length + headers[name]!.length;
  return n;
}

function redirectToHttps(res: Outbound, host: string, url: string, port: number): void {
  const location = `https://${host}${port === 443 ? '' : `:${port}`}${url}`;
  res.send(308, [['location', location], ['content-type', 'text/plain'], ['cache-control', 'no-store']], Buffer.from(`moved to ${location}\n`));
}

function noHealthyBackend(res: Outbound): void {
  sendJson(res, 503, errorBody('no_healthy_backend', 'the app has no healthy instance right now'), [['retry-after', '2']]);
}

function sendJson(res: Outbound, status: number, body: unknown, extra: HeaderList = []): void {
  res.send(status, [['content-type', 'application/json; charset=utf-8'], ['cache-control', 'no-store'], ...extra], Buffer.from(JSON.stringify(body)));
}

function errorCode(err: unknown): string {
  return (err as { code?: string })?.code ?? 'UNKNOWN';
}
