/**
 * The only file (with websocket.ts and tls.ts) that knows the HTTP server library (hyper-express on
 * uWebSockets.js, whose pin may change): it adapts a request/response pair to forward.ts's
 * Inbound/Outbound and nothing more.
 */
import HyperExpress, { type Request, type Response } from 'hyper-express';
import { STATUS_CODES } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { errorBody } from '../protocol/index.js';
import type { HeaderList, Inbound, Outbound } from './forward.js';
import { addSniCertificates, type TlsCertificate } from './tls.js';
import { attachWebSockets, type UpgradeRoute } from './websocket.js';

/** How long close() lets in-flight requests finish before it stops waiting. */
const DRAIN_MS = 5_000;

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export interface ServerOptions {
  host: string;
  port: number;
  proto: 'http' | 'https';
  /** Bigger request bodies get 413 from hyper-express. */
  maxBodyBytes: number;
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
    max_body_length: opts.maxBodyBytes,
    ...(first && { key_file_name: first.keyFile, cert_file_name: first.certFile }),
  });
  app.any('/*', (request, response) => {
    // uWS frames the body by the first Content-Length, hyper-express by the last: a request with two
    // different ones would desynchronise the body (and crash hyper-express's reader). Refuse it.
    const length = request.headers['content-length'];
    if (length !== undefined && request.raw.getHeader('content-length') !== length) {
      response.status(400).json(errorBody('bad_request', 'the request has conflicting Content-Length headers'));
      return;
    }
    opts.handle(new UwsInbound(request, response, opts.proto), new UwsOutbound(response)).catch((err: unknown) => {
      opts.log(`proxy error on ${request.method} ${request.url}: ${(err as Error).stack ?? String(err)}`);
      if (!response.initiated) {
        response.status(500).json({ error: { code: 'internal', message: 'the proxy failed on this request' } });
      } else {
        response.close();
      }
    });
  });
  attachWebSockets(app, (request) => opts.upgrade(new UwsInbound(request, null, opts.proto)), opts.onWebSocketCount, opts.log);
  await app.listen(opts.port, opts.host);
  if (opts.certificates) addSniCertificates(app, opts.certificates.slice(1));
  return {
    port: app.port,
    close: async () => {
      // shutdown() refuses new requests and resolves once in-flight ones are done; a hung one must not block exit.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([app.shutdown(), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
      clearTimeout(timer);
      app.close();
    },
  };
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
    return this.request.buffer();
  }

  streamBody(): PassThrough {
    const body = new PassThrough();
    this.request.pipe(body);
    return body;
  }

  onAbort(handler: () => void): void {
    this.response?.on('abort', handler);
  }
}

class UwsOutbound implements Outbound {
  status = 0;

  constructor(private readonly response: Response) {}

  send(status: number, headers: HeaderList, body?: Buffer, declaredLength?: number): void {
    const { response } = this;
    if (response.completed) return;
    this.head(status, headers);
    if (body === undefined) {
      if (declaredLength !== undefined) response.header('content-length', String(declaredLength), true);
      else withoutLength(response);
    }
    response.send(body);
  }

  stream(status: number, headers: HeaderList, body: Readable, length?: number): Promise<void> {
    const { response } = this;
    if (response.completed) {
      body.destroy();
      return Promise.resolve();
    }
    this.head(status, headers);
    return new Promise((resolve) => {
      // hyper-express's stream() never settles if the source errors: cut the client off and move on.
      body.once('error', () => {
        response.close();
        resolve();
      });
      response.stream(body, length).then(resolve, () => {
        response.close();
        resolve();
      });
    });
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
