/**
 * The only file (with websocket.ts and tls.ts) that knows the HTTP server library (hyper-express on
 * uWebSockets.js, whose pin may change): it adapts a request/response pair to forward.ts's
 * Inbound/Outbound, refusing requests whose framing could be read two ways (request-framing.ts),
 * reading bodies from uWS (request-body.ts), and deciding when an answer is written and whether it
 * ends the connection.
 */
import HyperExpress, { type Request, type Response } from 'hyper-express';
import { STATUS_CODES } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { errorBody } from '../protocol/index.js';
import type { HeaderList, Inbound, Outbound } from './forward.js';
import { BodyError, RequestBody, UploadWatch } from './request-body.js';
import { Refusal, requestFraming } from './request-framing.js';
import { addSniCertificates, type TlsCertificate } from './tls.js';
import type { Framing } from './upstream/request-head.js';
import { attachWebSockets, type UpgradeRoute } from './websocket.js';

/** How long close() lets in-flight requests finish before it stops waiting. */
const DRAIN_MS = 5_000;
const JSON_HEADERS: HeaderList = [['content-type', 'application/json; charset=utf-8'], ['cache-control', 'no-store']];
const EMPTY = Buffer.alloc(0);
const ignore = () => {};

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export interface ServerOptions {
  host: string;
  port: number;
  proto: 'http' | 'https';
  /** Bigger request bodies get 413. */
  maxBodyBytes: number;
  /** Upload watch: in every window of this many ms, a client must send `minBodyRate` bytes/s on average. */
  bodyWindowMs: number;
  minBodyRate: number;
  /** https only: the first certificate is the default, the others are chosen by SNI. */
  certificates?: TlsCertificate[];
  handle: (req: Inbound, res: Outbound) => Promise<void>;
  upgrade: (req: Inbound) => UpgradeRoute;
  onWebSocketCount: (delta: number) => void;
  log: (m: string) => void;
}

export async function startHttpServer(opts: ServerOptions): Promise<HttpServer> {
  const [first] = opts.certificates ?? [];
  const app = new HyperExpress.Server({
    // Bodies are read and limited by request-body.ts: hyper-express's own limit answers 413 by itself.
    max_body_length: Number.MAX_SAFE_INTEGER,
    ...(first && { key_file_name: first.keyFile, cert_file_name: first.certFile }),
  });
  const watch = new UploadWatch(opts.bodyWindowMs, opts.minBodyRate);
  app.any('/*', (request, response) => {
    const framing = checkFraming(request, opts.maxBodyBytes);
    // hyper-express holds every answer until its own body reader (replaced below) has seen the end.
    (request as { received: boolean }).received = true;
    if (framing instanceof Refusal) return refuse(request, response, framing, opts.maxBodyBytes, watch);
    const body = framing === 'chunked' || (framing !== null && framing > 0) ? readBody(response, framing, opts.maxBodyBytes, watch) : null;
    // A body the server library's lenient chunked decoder read: the connection is not trusted with another request.
    const outbound = new UwsOutbound(response, body, framing === 'chunked');
    opts.handle(new UwsInbound(request, response, opts.proto, framing, body), outbound).catch((err: unknown) => {
      opts.log(`proxy error on ${request.method} ${request.url}: ${(err as Error).stack ?? String(err)}`);
      if (!response.initiated) {
        response.status(500).json({ error: { code: 'internal', message: 'the proxy failed on this request' } });
      } else {
        response.close();
      }
    });
  });
  const upgradeRoute = (request: Request): UpgradeRoute => {
    const framing = checkFraming(request, opts.maxBodyBytes);
    if (framing instanceof Refusal) return framing;
    return opts.upgrade(new UwsInbound(request, null, opts.proto, null, null));
  };
  attachWebSockets(app, upgradeRoute, opts.onWebSocketCount, opts.log);
  await app.listen(opts.port, opts.host);
  if (opts.certificates) addSniCertificates(app, opts.certificates.slice(1));
  return {
    port: app.port,
    close: async () => {
      // shutdown() refuses new requests and resolves once in-flight ones are done; a hung one must not block exit.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([app.shutdown(), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
      clearTimeout(timer);
      watch.close();
      app.close();
    },
  };
}

/** Reads the body from uWS from now on (before it hands over any body byte), until it ends or the client goes. */
function readBody(response: Response, length: number | 'chunked', maxBodyBytes: number, watch: UploadWatch): RequestBody {
  const body = new RequestBody(response.raw, length, maxBodyBytes, watch);
  response.on('abort', () => body.fail(new BodyError('CLIENT_BODY_ABORTED', 'the client went away')));
  return body;
}

/** requestFraming() on a request's headers: hyper-express keeps the last of repeated ones, uWS the first. */
function checkFraming(request: Request, maxBodyBytes: number): Framing | Refusal {
  const { raw, headers } = request;
  const length = headers['content-length'];
  const coding = headers['transfer-encoding'];
  const host = headers.host;
  return requestFraming(
    length,
    length === undefined ? '' : raw.getHeader('content-length'),
    coding,
    coding === undefined ? '' : raw.getHeader('transfer-encoding'),
    host,
    host === undefined ? '' : raw.getHeader('host'),
    maxBodyBytes,
  );
}

/**
 * A request whose framing or routing could be read two ways: answered with its 4xx and the
 * connection closed, never forwarded. A body the server library frames is read and dropped first
 * (unless it is too large to wait for), so the answer reaches the client instead of a reset.
 */
function refuse(request: Request, response: Response, refusal: Refusal, maxBodyBytes: number, watch: UploadWatch): void {
  // uWS frames a body by the first Content-Length, or as chunked for any Transfer-Encoding.
  const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.raw.getHeader('content-length')) > 0;
  let body: RequestBody | null = null;
  if (hasBody && refusal.status !== 413) {
    body = readBody(response, 'chunked', maxBodyBytes, watch);
    body.drain();
  } else if (hasBody) {
    response.raw.onData(ignore); // hyper-express's reader would keep what it reads
  }
  new UwsOutbound(response, body, true).send(refusal.status, JSON_HEADERS, Buffer.from(JSON.stringify(errorBody(refusal.code, refusal.message))));
}

/** Classes rather than object literals: no closures allocated per request on the hot path. */
class UwsInbound implements Inbound {
  readonly method: string;
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly remoteAddress: string;

  constructor(
    private readonly request: Request,
    private readonly response: Response | null,
    readonly proto: 'http' | 'https',
    readonly bodyLength: Framing,
    private readonly body: RequestBody | null,
  ) {
    this.method = request.method;
    this.url = request.url;
    this.path = request.path;
    this.headers = request.headers;
    // uWS frees the address once the synchronous handler returns: read it now, from uWS directly
    // (hyper-express's request.ip also looks up X-Forwarded-For on every call).
    this.remoteAddress = response ? addressText(response.raw.getRemoteAddressAsText()) : request.ip;
  }

  readBody(): Promise<Buffer> {
    return this.body ? this.body.buffer() : Promise.resolve(EMPTY);
  }

  streamBody(): Readable {
    return this.body ? this.body.readable() : Readable.from([]);
  }

  onAbort(handler: () => void): void {
    this.response?.on('abort', handler);
  }
}

class UwsOutbound implements Outbound {
  status = 0;

  constructor(
    private readonly response: Response,
    private readonly body: RequestBody | null,
    /** The answer must close the connection (a refused request, or a chunked body). */
    private readonly mustClose: boolean,
  ) {}

  send(status: number, headers: HeaderList, body?: Buffer, declaredLength?: number): void {
    if (this.response.completed) return;
    this.status = status;
    // Once the answer is complete nobody needs the rest of the request body.
    this.body?.drain();
    if (this.closing) this.later(() => this.end(status, headers, body, declaredLength, true));
    else this.end(status, headers, body, declaredLength, false);
  }

  stream(status: number, headers: HeaderList, body: Readable, length?: number): Promise<void> {
    const { response } = this;
    if (response.completed) {
      body.destroy();
      return Promise.resolve();
    }
    this.status = status;
    this.head(status, headers);
    let source = body;
    if (this.closing && this.body) {
      // Relayed as it comes (an app may answer while it reads the upload), but the answer ends only
      // once the request body has, outside the parser, so uWS never takes what follows as a request.
      response.header('connection', 'close');
      source = this.gate(body, this.body);
      length = undefined;
    }
    return new Promise<void>((resolve) => {
      // hyper-express's stream() never settles if the source errors: cut the client off and move on.
      source.once('error', () => {
        response.close();
        resolve();
      });
      response.stream(source, length).then(resolve, () => {
        response.close();
        resolve();
      });
    }).then(() => this.body?.drain());
  }

  /** A refused or chunked request, or a body that failed: this answer is the connection's last. */
  private get closing(): boolean {
    return this.mustClose || (this.body !== null && this.body.error !== null);
  }

  /**
   * Runs `fn` once the request body is over, and outside the server library's parser (which calls
   * the handler synchronously): anything the parser reads on this connection meanwhile finds a
   * request still unanswered, and uWS closes the connection rather than hand it to the proxy.
   */
  private later(fn: () => void): void {
    const run = () =>
      setImmediate(() => {
        if (!this.response.completed) fn();
      });
    if (this.body) this.body.whenEnded(run);
    else run();
  }

  private gate(source: Readable, body: RequestBody): Readable {
    const gated = new PassThrough();
    source.once('error', (err) => gated.destroy(err));
    source.pipe(gated, { end: false });
    source.once('end', () => {
      body.drain();
      this.later(() => gated.end());
    });
    return gated;
  }

  private end(status: number, headers: HeaderList, body: Buffer | undefined, declaredLength: number | undefined, close: boolean): void {
    const { response } = this;
    this.head(status, headers);
    if (body === undefined) {
      if (declaredLength !== undefined) response.header('content-length', String(declaredLength), true);
      else {
        // uWS can end a bodiless answer without a length only when it keeps the connection: say so.
        if (close) response.header('connection', 'close');
        withoutLength(response);
        close = false;
      }
    }
    response.send(body, close);
  }

  private head(status: number, headers: HeaderList): void {
    this.status = status;
    this.response.status(status, STATUS_CODES[status] ?? 'Unknown');
    for (let i = 0; i < headers.length; i++) this.response.header(headers[i]![0], headers[i]![1]);
  }
}

/**
 * A bodiless answer (204, or a HEAD/304 whose app gave no length) must carry no Content-Length.
 * hyper-express calls uWS's endWithoutBody(undefined), which uWS takes as a length (2^63); called
 * with no argument it writes none. Patched on this one response only.
 */
function withoutLength(response: Response): void {
  const raw = response.raw as unknown as { endWithoutBody(length?: number, close?: boolean): unknown };
  const end = raw.endWithoutBody;
  raw.endWithoutBody = (length?: number, close?: boolean) => (length === undefined && !close ? end.call(raw) : end.call(raw, length, close));
}

/** uWS's address text is ASCII (an IPv4/IPv6 literal). */
function addressText(buffer: ArrayBuffer): string {
  return String.fromCharCode.apply(null, new Uint8Array(buffer) as unknown as number[]);
}
