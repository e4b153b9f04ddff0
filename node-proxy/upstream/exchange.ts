/**
 * One request/response exchange with a backend, on the proxy's own HTTP/1.1 client: small responses
 * are collected and handed to the client in one write; big or unsized ones stream with
 * back-pressure (a slow client pauses the backend socket).
 */
import { Readable } from 'node:stream';
import type { Outbound } from '../forward.js';
import { responseHeaders } from '../headers.js';
import type { UpstreamError, UpstreamRequest } from './connection.js';
import type { UpstreamPool } from './pool.js';
import type { ResponseHead } from './response-parser.js';

/** Bodies up to this size (with a Content-Length) are collected and sent in one write. */
export const SMALL_RESPONSE = 64 * 1024;

export type ExchangeResult =
  /** The client got its answer (or went away). */
  | { done: true }
  /** Failed before any byte went to the client: the caller may retry or answer with an error. */
  | { done: false; error: UpstreamError };

export function exchange(
  pool: UpstreamPool,
  request: UpstreamRequest,
  res: Outbound,
  onClientAbort: (handler: () => void) => void,
  log: (m: string) => void,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    let status = 0;
    let headers: ReturnType<typeof responseHeaders> = [];
    let length: number | undefined;
    let noBody = false;
    let chunks: Buffer[] | null = null;
    let stream: Readable | null = null;
    let settled = false;
    const settle = (r: ExchangeResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };

    const ex = pool.request(request, {
      onHead(head: ResponseHead) {
        status = head.status;
        headers = responseHeaders(head.headers);
        length = head.length;
        noBody = request.method === 'HEAD' || status === 204 || status === 304;
        if (noBody || (length !== undefined && length <= SMALL_RESPONSE)) {
          chunks = [];
          return;
        }
        // A generous buffer: each pause/resume of the backend socket costs more than the memory.
        stream = new Readable({ read: () => ex.resume(), highWaterMark: 256 * 1024 });
        stream.on('error', () => {});
        res.stream(status, headers, stream, length).then(
          () => settle({ done: true }),
          (err: Error) => {
            log(`stream to client failed: ${err.message}`);
            settle({ done: true });
          },
        );
      },
      onBody(chunk) {
        if (chunks) {
          chunks.push(chunk);
          return true;
        }
        return stream!.push(chunk);
      },
      onEnd() {
        if (stream) {
          stream.push(null);
          return;
        }
        if (settled) return;
        const body = noBody ? undefined : chunks!.length === 1 ? chunks![0] : Buffer.concat(chunks!);
        res.send(status, headers, body ?? (noBody ? undefined : Buffer.alloc(0)), noBody ? length : undefined);
        settle({ done: true });
      },
      onError(err) {
        if (stream) {
          // Headers went out already: all that can be done is to cut the client off.
          stream.destroy(err);
          return;
        }
        settle(settled ? { done: true } : { done: false, error: err });
      },
    });
    onClientAbort(() => {
      ex.abort();
      stream?.destroy();
      settle({ done: true });
    });
  });
}
