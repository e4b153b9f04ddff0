/**
 * One request/response exchange with a backend on undici's low-level dispatch API: raw header
 * buffers and body chunks straight from the parser, no per-request Readable, promise chain or
 * AbortSignal (the profile showed those as a large share of a small request's CPU). Small
 * responses are collected and handed to the client in one write; big or unsized ones stream with
 * back-pressure (the client side pauses the backend socket).
 */
import { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { responseHeadersFromRaw, type ResponseHead } from './headers.js';
import type { HeaderList, Outbound } from './forward.js';

/** Bodies up to this size (with a Content-Length) are collected and sent in one write. */
export const SMALL_RESPONSE = 64 * 1024;

export type ExchangeResult =
  /** The client got its answer (or went away). */
  | { done: true }
  /** Failed before any byte went to the client: the caller may retry or answer with an error. */
  | { done: false; error: Error };

interface LegacyHandler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: unknown): void;
  onError(err: Error): void;
}

export function exchange(
  pool: Pool,
  opts: Dispatcher.DispatchOptions,
  res: Outbound,
  onClientAbort: (handler: () => void) => void,
  log: (m: string) => void,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const bodiless = opts.method === 'HEAD';
    let abort: ((err?: Error) => void) | null = null;
    let clientGone = false;
    let status = 0;
    let head: ResponseHead | null = null;
    let chunks: Buffer[] | null = null;
    let stream: Readable | null = null;
    let settled = false;
    const settle = (r: ExchangeResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    onClientAbort(() => {
      clientGone = true;
      abort?.(new Error('client went away'));
      stream?.destroy();
      settle({ done: true });
    });

    const handler: LegacyHandler = {
      onConnect(fn) {
        abort = fn;
        if (clientGone) fn(new Error('client went away'));
      },
      onHeaders(statusCode, rawHeaders, resume) {
        if (statusCode < 200) return true; // 1xx interim answers are not relayed
        status = statusCode;
        head = responseHeadersFromRaw(rawHeaders);
        const noBody = bodiless || statusCode === 204 || statusCode === 304;
        if (noBody || (head.length !== undefined && head.length <= SMALL_RESPONSE)) {
          chunks = [];
          return true;
        }
        // A generous buffer: each pause/resume of the backend socket costs more than the memory.
        stream = new Readable({ read: () => resume(), highWaterMark: 256 * 1024 });
        stream.on('error', () => {});
        res.stream(status, head.headers, stream, head.length).then(
          () => settle({ done: true }),
          (err: Error) => {
            log(`stream to client failed: ${err.message}`);
            settle({ done: true });
          },
        );
        return true;
      },
      onData(chunk) {
        if (chunks) {
          chunks.push(chunk);
          return true;
        }
        return stream ? stream.push(chunk) : true;
      },
      onComplete() {
        if (stream) {
          stream.push(null);
          return;
        }
        if (clientGone || !head) return settle({ done: true });
        const noBody = bodiless || status === 204 || status === 304;
        const body = noBody ? undefined : chunks!.length === 1 ? chunks![0] : Buffer.concat(chunks!);
        res.send(status, head.headers, body ?? (noBody ? undefined : Buffer.alloc(0)), noBody ? head.length : undefined);
        settle({ done: true });
      },
      onError(err) {
        if (stream) {
          // Headers went out already: all that can be done is to cut the client off.
          stream.destroy(err);
          return;
        }
        settle(clientGone ? { done: true } : { done: false, error: err });
      },
    };
    pool.dispatch(opts, handler as unknown as Dispatcher.DispatchHandler);
  });
}

export type { HeaderList };
