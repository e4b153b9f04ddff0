/**
 * One proxied request: route by Host, pick a backend, forward on the proxy's own client, answer the
 * client. Written against the small Inbound/Outbound interfaces so the HTTP server library stays in
 * server.ts.
 */
import type { Readable } from 'node:stream';
import { errorBody } from '../protocol/index.js';
import type { AgentPush } from './agent-push.js';
import type { Balancer } from './balancer.js';
import { plainAddress, upstreamRequestHeaders, type ClientInfo } from './headers.js';
import { normalizeHost, type Backend, type RouteTable, type Target } from './route-table.js';
import type { TrustedProxies } from './trusted-proxies.js';
import type { UpstreamRequest } from './upstream/connection.js';
import { exchange } from './upstream/exchange.js';
import { requestHead, type Framing } from './upstream/request-head.js';
import type { Upstreams } from './upstream/upstreams.js';
import type { UpgradeRoute } from './websocket.js';

export const HEALTH_PATH = '/__zectre/health';
/** Request bodies up to this size are buffered (which makes retries possible). */
export const SMALL_BODY = 64 * 1024;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Failures where the backend never got the request (or lost it on a stale keep-alive socket). */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UPSTREAM_CONNECT_TIMEOUT']);
const TIMEOUT_ERRORS = new Set(['UPSTREAM_CONNECT_TIMEOUT', 'UPSTREAM_HEADERS_TIMEOUT', 'UPSTREAM_BODY_TIMEOUT']);
/** Answers to failures that are not the app's: the client's body, or the app's capacity (null: nobody to answer). */
const OWN_ANSWERS: Record<string, [number, string, string, HeaderList?] | null> = {
  CLIENT_BODY_ABORTED: null,
  CLIENT_BODY_TIMEOUT: [408, 'request_timeout', 'the request body arrived too slowly'],
  CLIENT_BODY_TOO_LARGE: [413, 'payload_too_large', 'the request body is too large'],
  CLIENT_BODY_LENGTH: [400, 'bad_request', 'the request body did not match its Content-Length'],
  UPSTREAM_QUEUE_TIMEOUT: [503, 'app_busy', 'every connection to the app stayed busy; try again shortly', [['retry-after', '5']]],
  UPSTREAM_CLIENT_LIMIT: [429, 'too_many_requests', 'too many requests from this address to the app at once', [['retry-after', '2']]],
};

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
  /** The body's framing as the server checked and read it (never a header value taken as is). */
  bodyLength: Framing;
  /** A Content-Length body in full; rejects with a `code` (CLIENT_BODY_*) when the client fails to send it. */
  readBody(): Promise<Buffer>;
  /** The body as it arrives; errors with a `code` (CLIENT_BODY_*). */
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
  /** Peers whose X-Forwarded-* headers are believed; null: none. */
  trustedProxies: TrustedProxies | null;
  /** Requests with more header bytes (names + values) get 431. */
  maxHeaderBytes: number;
  /** When set, plain-HTTP requests for apps are redirected to HTTPS on this public port. */
  httpsRedirectPort: number | null;
  /**
   * The wait for a response head of a GET/HEAD without body when another backend could answer it
   * (a frozen backend costs this, then the request is retried there).
   */
  failoverHeadersMs: number;
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
  let target = push ? push.target : deps.routes().lookup(hostHeader, req.url);
  if (!target) return sendJson(res, 404, errorBody('unknown_host', `no app is served at ${host}`));
  if (!push && req.proto === 'http' && deps.httpsRedirectPort !== null) return redirectToHttps(res, host, req.url, deps.httpsRedirectPort);
  if (target.backends.length === 0) return noHealthyBackend(res);

  const client = clientInfo(deps, req, hostHeader);
  const headers = upstreamRequestHeaders(req.headers, client);
  // node:http has already answered any 100-continue itself.
  delete headers.expect;

  let body: Buffer | Readable | undefined;
  let retryable = IDEMPOTENT.has(req.method);
  const length = req.bodyLength;
  if (typeof length === 'number' && length > 0 && length <= SMALL_BODY) {
    try {
      body = await req.readBody();
    } catch (err) {
      return ownAnswer(res, errorCode(err));
    }
  } else if (length === 'chunked' || (length !== null && length > 0)) {
    // A streamed body can be sent once only.
    body = req.streamBody();
    retryable = false;
  }

  const request: UpstreamRequest = {
    method: req.method,
    // Framed by what the server read, whatever the client's headers said.
    head: requestHead(req.method, req.url, headers, length),
    body,
    chunked: length === 'chunked',
    length: typeof length === 'number' ? length : undefined,
    retryable,
    client: client.clientAddress,
  };
  // Safe to send twice even after the app may have seen it: retried elsewhere after a timeout too.
  const safe = (req.method === 'GET' || req.method === 'HEAD') && body === undefined;
  let backend = deps.balancer.pick(target);
  for (let attempt = 0; backend; attempt++) {
    request.headersMs = safe && attempt === 0 && deps.balancer.hasAlternative(target, backend) ? deps.failoverHeadersMs : undefined;
    const result = await exchange(deps.upstreams.get(backend), request, res, req, deps.log);
    if (result.done) {
      deps.balancer.markOk(backend);
      return;
    }
    const code = errorCode(result.error);
    deps.onUpstreamError(code);
    if (code in OWN_ANSWERS) return ownAnswer(res, code);
    // A retry goes where the current table says: the route may have changed while this one waited.
    if (!push) target = deps.routes().lookup(hostHeader, req.url) ?? target;
    if (code === 'UPSTREAM_REMOVED') {
      // Its instance left routing and stopped answering (upstreams.ts). Like a head that never
      // came, the app may have the request: only a safe one is sent again.
      const next = safe ? deps.balancer.pick(target, backend) : undefined;
      if (!next) return upstreamRemoved(deps, res, backend, result.error);
      backend = next;
      continue;
    }
    const next = nextBackend(deps, target, backend, code, retryable && attempt === 0, safe);
    if (!next) return upstreamFailed(deps, res, backend, code, result.error);
    backend = next;
  }
}

/**
 * After a connect failure or a timeout waiting for the head: count it against the backend (passive
 * health) and, when allowed, name another one to retry on. A head that never came is retried only
 * for a safe request: the app may have acted on anything else.
 */
function nextBackend(
  deps: ForwarderDeps,
  target: Target,
  failed: Backend,
  code: string,
  mayRetry: boolean,
  safe: boolean,
): Backend | undefined {
  const connect = CONNECT_ERRORS.has(code);
  if (!connect && code !== 'UPSTREAM_HEADERS_TIMEOUT') return undefined;
  deps.balancer.markFailed(failed, code, connect);
  if (!connect && !safe) return undefined;
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

function upstreamRemoved(deps: ForwarderDeps, res: Outbound, backend: Backend, err: unknown): void {
  deps.log(`upstream ${backend.key} failed: UPSTREAM_REMOVED ${(err as Error).message}`);
  const message = 'the app instance handling this request stopped answering and was removed from routing before it responded (it may have acted on the request); retry if that is safe';
  sendJson(res, 502, errorBody('upstream_removed', message));
}

/** Routing for a WebSocket upgrade: the same host lookup and balancing as a request. */
export function routeUpgrade(deps: ForwarderDeps, req: Inbound): UpgradeRoute {
  const hostHeader = req.headers.host ?? '';
  const target = deps.routes().lookup(hostHeader, req.url);
  if (!target) return { status: 404, code: 'unknown_host', message: `no app is served at ${normalizeHost(hostHeader)}` };
  const backend = deps.balancer.pick(target);
  if (!backend) return { status: 503, code: 'no_healthy_backend', message: 'the app has no healthy instance right now' };
  const headers = upstreamRequestHeaders(req.headers, clientInfo(deps, req, hostHeader));
  return { backend, headers };
}

/** Who sent the request: the peer, unless the peer is a trusted proxy that says whom it forwards for. */
function clientInfo(deps: ForwarderDeps, req: Inbound, host: string): ClientInfo {
  const peer = plainAddress(req.remoteAddress);
  const trusted = deps.trustedProxies !== null && deps.trustedProxies.trusts(peer);
  const clientAddress = trusted ? deps.trustedProxies!.clientOf(peer, req.headers['x-forwarded-for']) : peer;
  return { host, remoteAddress: peer, proto: req.proto, trusted, clientAddress };
}

/** The proxy's own answer to a failure that is the client's or the app's capacity, not the app's fault. */
function ownAnswer(res: Outbound, code: string): void {
  const answer = OWN_ANSWERS[code];
  if (!answer) return;
  const [status, errorName, message, extra] = answer;
  sendJson(res, status, errorBody(errorName, message), extra);
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
