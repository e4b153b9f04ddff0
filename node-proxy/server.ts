/**
 * The only file (with websocket.ts and tls.ts) that knows the HTTP server library (hyper-express on
 * uWebSockets.js, whose pin may change): it adapts a request/response pair to forward.ts's
 * Inbound/Outbound and nothing more.
 */
import HyperExpress, { type Request, type Response } from 'hyper-express';
import { STATUS_CODES } from 'node:http';
import { PassThrough } from 'node:stream';
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
    opts.handle(inbound(request, response, opts.proto), outbound(response)).catch((err: unknown) => {
      opts.log(`proxy error on ${request.method} ${request.url}: ${(err as Error).stack ?? String(err)}`);
      if (!response.initiated) {
        response.status(500).json({ error: { code: 'internal', message: 'the proxy failed on this request' } });
      } else {
        response.close();
      }
    });
  });
  attachWebSockets(app, (request) => opts.upgrade(inbound(request, null, opts.proto)), opts.onWebSocketCount, opts.log);
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

function inbound(request: Request, response: Response | null, proto: 'http' | 'https'): Inbound {
  return {
    method: request.method,
    url: request.url,
    path: request.path,
    headers: request.headers,
    proto,
    // uWS frees the address once the synchronous handler returns: read it now. Read from uWS directly:
    // hyper-express's request.ip also looks up X-Forwarded-For on every call, a cost the profile showed.
    remoteAddress: response ? Buffer.from(response.raw.getRemoteAddressAsText()).toString('latin1') : request.ip,
    readBody: () => request.buffer(),
    streamBody: () => {
      const body = new PassThrough();
      request.pipe(body);
      return body;
    },
    onAbort: (handler) => response?.once('abort', handler),
  };
}

function outbound(response: Response): Outbound {
  const head = (status: number, headers: HeaderList) => {
    response.status(status, STATUS_CODES[status] ?? 'Unknown');
    for (const [name, value] of headers) response.header(name, value);
  };
  return {
    send(status, headers, body, declaredLength) {
      if (response.completed) return;
      head(status, headers);
      if (declaredLength !== undefined && body === undefined) response.header('content-length', String(declaredLength), true);
      response.send(body);
    },
    stream(status, headers, body, length) {
      if (response.completed) {
        body.destroy();
        return Promise.resolve();
      }
      head(status, headers);
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
    },
  };
}
