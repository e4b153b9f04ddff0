/**
 * One request/response exchange with a backend, on the proxy's own HTTP/1.1 client: small responses
 * are collected and handed to the client in one write; big or unsized ones stream with
 * back-pressure (a slow client pauses the backend socket). A class, not closures: it runs per request.
 */
import { Readable } from 'node:stream';
import type { HeaderList, Outbound } from '../forward.js';
import { responseHeaders } from '../headers.js';
import type { ResponseSink, UpstreamError, UpstreamRequest } from './connection.js';
import type { Exchange, UpstreamPool } from './pool.js';
import type { ResponseHead } from './response-parser.js';

/** Bodies up to this size (with a Content-Length) are collected and sent in one write. */
export const SMALL_RESPONSE = 64 * 1024;

export type ExchangeResult =
  /** The client got its answer (or went away). */
  | { done: true }
  /** Failed before any byte went to the client: the caller may retry or answer with an error. */
  | { done: false; error: UpstreamError };

const DONE: ExchangeResult = { done: true };

export function exchange(
  pool: UpstreamPool,
  request: UpstreamRequest,
  res: Outbound,
  client: { onAbort(handler: () => void): void },
  log: (m: string) => void,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const relay = new Relay(request.method, res, resolve, log);
    relay.upstream = pool.request(request, relay);
    client.onAbort(() => relay.clientGone());
  });
}

/** Relays one upstream response to the client. */
class Relay implements ResponseSink {
  upstream: Exchange | null = null;
  private status = 0;
  private headers: HeaderList = [];
  private length: number | undefined;
  private noBody = false;
  private chunks: Buffer[] | null = null;
  private stream: Readable | null = null;
  private settled = false;

  constructor(
    private readonly method: string,
    private readonly res: Outbound,
    private readonly resolve: (r: ExchangeResult) => void,
    private readonly log: (m: string) => void,
  ) {}

  onHead(head: ResponseHead): void {
    this.status = head.status;
    this.headers = responseHeaders(head.headers);
    this.length = head.length;
    this.noBody = this.method === 'HEAD' || head.status === 204 || head.status === 304;
    if (this.noBody || (head.length !== undefined && head.length <= SMALL_RESPONSE)) {
      this.chunks = [];
      return;
    }
    // A generous buffer: each pause/resume of the backend socket costs more than the memory.
    const stream = new Readable({ read: () => this.upstream?.resume(), highWaterMark: 256 * 1024 });
    stream.on('error', () => {});
    this.stream = stream;
    this.res.stream(this.status, this.headers, stream, head.length).then(
      () => this.settle(DONE),
      (err: Error) => {
        this.log(`stream to client failed: ${err.message}`);
        this.settle(DONE);
      },
    );
  }

  onBody(chunk: Buffer): boolean {
    if (this.chunks) {
      this.chunks.push(chunk);
      return true;
    }
    return this.stream!.push(chunk);
  }

  onEnd(): void {
    if (this.stream) {
      this.stream.push(null);
      return;
    }
    if (this.settled) return;
    const { chunks, noBody } = this;
    const body = noBody ? undefined : chunks!.length === 1 ? chunks![0] : Buffer.concat(chunks!);
    this.res.send(this.status, this.headers, body, noBody ? this.length : undefined);
    this.settle(DONE);
  }

  onError(err: UpstreamError): void {
    if (this.stream) {
      // Headers went out already: all that can be done is to cut the client off.
      this.stream.destroy(err);
      return;
    }
    this.settle({ done: false, error: err });
  }

  clientGone(): void {
    this.upstream?.abort();
    this.stream?.destroy();
    this.settle(DONE);
  }

  private settle(r: ExchangeResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(r);
  }
}
