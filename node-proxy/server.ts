/**
 * The public listeners: node:http / node:https, whose parser (llhttp, strict) frames every request
 * one way or refuses it, and answers pipelined requests in order (docs/decisions.md, "Proxy inbound").
 * This file refuses what the parser accepts but the proxy must not forward (request-framing.ts),
 * answers what the parser refuses with a 4xx and closes the connection, feeds bodies to
 * request-body.ts, hands WebSocket upgrades to websocket.ts, and drains on close.
 */
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import { errorBody } from '../protocol/index.js';
import { CLOSING, NodeBodySource, NodeInbound, NodeOutbound, type ClosingSocket, type DrainState } from './exchange-adapters.js';
import type { HeaderList, Inbound, Outbound } from './forward.js';
import { BodyError, RequestBody, UploadWatch } from './request-body.js';
import { Refusal, requestFraming } from './request-framing.js';
import { tlsOptions, type TlsCertificate } from './tls.js';
import type { Framing } from './upstream/request-head.js';
import { refuse as refuseUpgrade, type UpgradeRoute, type WebSockets } from './websocket.js';

const JSON_HEADERS: HeaderList = [['content-type', 'application/json; charset=utf-8'], ['cache-control', 'no-store']];
/** Idle keep-alive connections are closed after this long (as uWS did before; a client reconnects). */
const KEEP_ALIVE_MS = 10_000;
/** A client must finish sending its request head within this long. */
const HEADERS_TIMEOUT_MS = 30_000;

export interface HttpServer {
  port: number;
  /**
   * Graceful: stops accepting; requests arriving on open connections are still served, with
   * `Connection: close`; idle connections close at their keep-alive timeout. Resolves when every
   * connection has closed, or after `graceMs` (then the rest are cut).
   */
  close(graceMs: number): Promise<void>;
}

export interface ServerOptions {
  host: string;
  port: number;
  proto: 'http' | 'https';
  /** Bigger request bodies get 413. */
  maxBodyBytes: number;
  /** forward.ts answers 431 above this; the parser's own limit is set above it. */
  maxHeaderBytes: number;
  /** Upload watch: in every window of this many ms, a client must send `minBodyRate` bytes/s on average. */
  bodyWindowMs: number;
  minBodyRate: number;
  /** https only: the first certificate is the default, the others are chosen by SNI. */
  certificates?: TlsCertificate[];
  /** https only: custom domains' certificates by SNI name (acme/certs.ts). */
  domainCertificates?: (name: string) => SecureContext | undefined;
  handle: (req: Inbound, res: Outbound) => Promise<void>;
  upgrade: (req: Inbound) => UpgradeRoute;
  websockets: WebSockets;
  log: (m: string) => void;
}

export async function startHttpServer(opts: ServerOptions): Promise<HttpServer> {
  const serverOptions = {
    // Names + values over maxHeaderBytes get forward.ts's 431 with the error shape; this bounds the rest.
    maxHeaderSize: opts.maxHeaderBytes * 2 + 8192,
    requireHostHeader: false, // a missing Host is forward.ts's 404 unknown_host
    requestTimeout: 0, // long uploads are bounded by the upload watch (a minimum rate), not a total time
    headersTimeout: HEADERS_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_MS,
    noDelay: true,
  };
  const server: Server = opts.certificates
    ? createHttpsServer({ ...serverOptions, ...tlsOptions(opts.certificates, opts.domainCertificates) })
    : createHttpServer(serverOptions);
  const watch = new UploadWatch(opts.bodyWindowMs, opts.minBodyRate);
  const drain: DrainState = { draining: false };
  const sockets = new Set<Socket>();
  server.on(opts.certificates ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => onRequest(opts, watch, drain, req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(opts, drain, req, socket, head));
  server.on('clientError', (err: Error & { code?: string; reason?: string }, socket: Duplex) => onClientError(err, socket));
  server.listen(opts.port, opts.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async (graceMs) => {
      drain.draining = true;
      // net.Server's close, not http.Server's: the latter also drops idle keep-alive connections at
      // once, and a client that has just sent a request on one would see a reset instead of an answer.
      NetServer.prototype.close.call(server);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          const check = () => (sockets.size === 0 ? resolve() : setTimeout(check, 50).unref());
          check();
        }),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      watch.close();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** The response of the latest request parsed on a socket, for onClientError. */
const LATEST = Symbol('latest response');
type TrackedSocket = Duplex & ClosingSocket & { [LATEST]?: ServerResponse; _httpMessage?: ServerResponse | null };

function onRequest(opts: ServerOptions, watch: UploadWatch, drain: DrainState, req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as TrackedSocket;
  // Pipelined behind an answer that closes the connection: left unanswered, as the connection ends.
  if (socket[CLOSING]) return;
  socket[LATEST] = res;
  const framing = checkFraming(req, opts.maxBodyBytes);
  if (framing instanceof Refusal) {
    socket[CLOSING] = true;
    return refuse(req, res, framing);
  }
  let body: RequestBody | null = null;
  if (framing === 'chunked' || (framing !== null && framing > 0)) {
    const requestBody = new RequestBody(new NodeBodySource(req), framing, opts.maxBodyBytes, watch);
    const aborted = () => requestBody.fail(new BodyError('CLIENT_BODY_ABORTED', 'the client went away'));
    req.once('aborted', aborted);
    req.once('error', aborted);
    body = requestBody;
  }
  const outbound = new NodeOutbound(res, body, drain);
  opts.handle(new NodeInbound(req, res, opts.proto, framing, body), outbound).catch((err: unknown) => {
    opts.log(`proxy error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
    if (!res.headersSent) outbound.send(500, JSON_HEADERS, Buffer.from(JSON.stringify(errorBody('internal', 'the proxy failed on this request'))));
    else res.destroy();
  });
}

function checkFraming(req: IncomingMessage, maxBodyBytes: number): Framing | Refusal {
  const { headers } = req;
  return requestFraming(headers['content-length'], headers['transfer-encoding'], headers.host, req.rawHeaders, maxBodyBytes);
}

/**
 * A request whose framing or routing could be read two ways: answered with its 4xx and the
 * connection closed, never forwarded. A body is read and dropped first (unless it is too large to
 * wait for), so the answer reaches the client instead of a reset.
 */
function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  const answer = () => {
    if (res.headersSent || res.destroyed) return;
    const body = JSON.stringify(errorBody(refusal.code, refusal.message));
    res.shouldKeepAlive = false;
    res.writeHead(refusal.status, ['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(body))]);
    res.end(body);
  };
  if (refusal.status === 413 || req.complete) return answer();
  req.on('error', () => {});
  req.on('end', answer);
  req.resume();
}

/** Only WebSocket upgrades are relayed; anything else with `Upgrade` (h2c, …) is refused. */
function onUpgrade(opts: ServerOptions, drain: DrainState, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  // A socket opened now would only be cut when the grace period ends.
  if (drain.draining) return refuseUpgrade(socket, 503, 'shutting_down', 'this proxy is shutting down; connect again');
  const framing = checkFraming(req, opts.maxBodyBytes);
  if (framing instanceof Refusal) return refuseUpgrade(socket, framing.status, framing.code, framing.message);
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
    return refuseUpgrade(socket, 400, 'bad_request', 'the only protocol upgrade the proxy relays is websocket; send the request without Upgrade');
  }
  const route = opts.upgrade(new NodeInbound(req, null, opts.proto, null, null));
  opts.websockets.upgrade(req, socket, head, route).catch((err: unknown) => {
    opts.log(`websocket upgrade failed: ${(err as Error).message}`);
    socket.destroy();
  });
}

/** What the parser refused, in words a client can act on. */
const PARSE_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'the request has conflicting Content-Length headers'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'the request has an invalid Content-Length'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'the only transfer coding accepted for a request is chunked, once, without Content-Length'],
  HPE_INVALID_CHUNK_SIZE: [400, 'the chunked body has an invalid chunk size line'],
  HPE_CR_EXPECTED: [400, 'the chunked body has a line not ended by CRLF'],
  HPE_LF_EXPECTED: [400, 'the request has a line not ended by CRLF'],
  HPE_STRICT: [400, 'the chunked body is malformed'],
};

/**
 * The parser refused the connection's bytes: the connection is closed, after a 4xx when that 4xx
 * answers the request the bytes belong to and no other answer is due first. A request whose body
 * was being forwarded fails with it (the app's connection is dropped mid-body, so the app never
 * parses a complete request).
 */
function onClientError(err: Error & { code?: string; reason?: string }, socket: TrackedSocket): void {
  const latest = socket[LATEST];
  const pending = socket._httpMessage ?? null;
  // The bad bytes are the body of the latest request (its answer may be out already), or a new head.
  const answerable = latest && !latest.req.complete ? pending === latest && !latest.headersSent : pending === null;
  if (err.code === 'ECONNRESET' || !socket.writable || !answerable) {
    socket.destroy();
    return;
  }
  const [status, message] = PARSE_ERRORS[err.code ?? ''] ?? [400, `the request could not be parsed (${err.reason ?? err.code ?? 'malformed'})`];
  const code = status === 431 ? 'headers_too_large' : 'bad_request';
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncache-control: no-store\r\n` +
      `connection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Whatever the client still sends is not read; a client that never closes its side is cut.
  setTimeout(() => socket.destroy(), 1_000).unref();
}
