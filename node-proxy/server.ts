/**
 * The only file that knows the HTTP server library (hyper-express on uWebSockets.js, whose pin may
 * change): it adapts a request/response pair to forward.ts's Inbound/Outbound and nothing more.
 */
import HyperExpress, { type Request, type Response } from 'hyper-express';
import { STATUS_CODES } from 'node:http';
import { PassThrough } from 'node:stream';
import type { HeaderList, Inbound, Outbound } from './forward.js';

/** Largest request body accepted; bigger uploads get 413 from hyper-express. */
const MAX_BODY = 1024 * 1024 * 1024;
/** How long close() lets in-flight requests finish before it stops waiting. */
const DRAIN_MS = 5_000;

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export type Handler = (req: Inbound, res: Outbound) => Promise<void>;

export async function startHttpServer(host: string, port: number, handle: Handler, log: (m: string) => void): Promise<HttpServer> {
  const app = new HyperExpress.Server({ max_body_length: MAX_BODY });
  app.any('/*', (request, response) => {
    handle(inbound(request, response), outbound(response)).catch((err: unknown) => {
      log(`proxy error on ${request.method} ${request.url}: ${(err as Error).stack ?? String(err)}`);
      if (!response.initiated) {
        response.status(500).json({ error: { code: 'internal', message: 'the proxy failed on this request' } });
      } else {
        response.close();
      }
    });
  });
  await app.listen(port, host);
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

function inbound(request: Request, response: Response): Inbound {
  return {
    method: request.method,
    url: request.url,
    path: request.path,
    headers: request.headers,
    // uWS frees the address once the synchronous handler returns: read it now.
    remoteAddress: request.ip,
    readBody: () => request.buffer(),
    streamBody: () => {
      const body = new PassThrough();
      request.pipe(body);
      return body;
    },
    onAbort: (handler) => response.once('abort', handler),
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
