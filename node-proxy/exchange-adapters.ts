/**
 * node:http's request/response pair as forward.ts's Inbound/Outbound. Classes rather than object
 * literals: no closures allocated per request on the hot path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import type { HeaderList, Inbound, Outbound } from './forward.js';
import type { BodySource, RequestBody } from './request-body.js';
import type { Framing } from './upstream/request-head.js';

const EMPTY = Buffer.alloc(0);

/**
 * Set on a socket once an answer on it says `Connection: close`: requests the parser reads after
 * that (pipelined behind a refused one, say) are never forwarded, and the connection ends.
 */
export const CLOSING = Symbol('closing');
export type ClosingSocket = { [CLOSING]?: boolean };

/** Shared by a listener's responses: once set, every answer closes its connection (graceful shutdown). */
export interface DrainState {
  draining: boolean;
}

export class NodeInbound implements Inbound {
  readonly method: string;
  readonly url: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly remoteAddress: string;

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse | null,
    readonly proto: 'http' | 'https',
    readonly bodyLength: Framing,
    private readonly body: RequestBody | null,
  ) {
    this.method = req.method!;
    const url = req.url!;
    this.url = url;
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    // node:http gives arrays only for set-cookie, which no request should carry; one line each elsewhere.
    if (req.headers['set-cookie'] !== undefined) req.headers['set-cookie'] = (req.headers['set-cookie'] as string[]).join(', ') as never;
    this.headers = req.headers as Record<string, string>;
    this.remoteAddress = req.socket.remoteAddress ?? '';
  }

  readBody(): Promise<Buffer> {
    return this.body ? this.body.buffer() : Promise.resolve(EMPTY);
  }

  streamBody(): Readable {
    return this.body ? this.body.readable() : Readable.from([]);
  }

  /** The client went away before its answer was complete. */
  onAbort(handler: () => void): void {
    const res = this.res;
    res?.once('close', () => {
      if (!res.writableFinished) handler();
    });
  }
}

export class NodeOutbound implements Outbound {
  status = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly body: RequestBody | null,
    private readonly drain: DrainState,
  ) {}

  send(status: number, headers: HeaderList, body?: Buffer, declaredLength?: number): void {
    const { res } = this;
    if (res.headersSent || res.destroyed) return;
    this.status = status;
    // Once the answer is complete nobody needs the rest of the request body.
    this.body?.drain();
    const flat = this.head(headers);
    const length = body ? body.length : declaredLength;
    if (length !== undefined) flat.push('content-length', String(length));
    res.writeHead(status, flat);
    res.end(body);
  }

  stream(status: number, headers: HeaderList, body: Readable, length?: number): Promise<void> {
    const { res } = this;
    if (res.headersSent || res.destroyed) {
      body.destroy();
      return Promise.resolve();
    }
    this.status = status;
    const flat = this.head(headers);
    if (length !== undefined) flat.push('content-length', String(length));
    res.writeHead(status, flat);
    return new Promise<void>((resolve) => {
      // An error on either side (the app's stream cut, the client gone) ends both.
      pipeline(body, res, () => resolve());
    }).then(() => this.body?.drain());
  }

  /** Flat header list for writeHead; decides whether this answer ends the connection. */
  private head(headers: HeaderList): string[] {
    // A body that failed (too slow, too large) leaves unread bytes: the connection is not reused.
    if (this.drain.draining || (this.body !== null && this.body.error !== null)) {
      this.res.shouldKeepAlive = false;
      // The request's socket: a pipelined answer still queued has none of its own yet.
      (this.res.req.socket as ClosingSocket)[CLOSING] = true;
    }
    const flat: string[] = [];
    for (let i = 0; i < headers.length; i++) {
      const [name, value] = headers[i]!;
      if (typeof value === 'string') flat.push(name, value);
      else for (const v of value) flat.push(name, v);
    }
    return flat;
  }
}

/** A request's body as RequestBody reads it. */
export class NodeBodySource implements BodySource {
  constructor(private readonly req: IncomingMessage) {}

  onData(handler: (chunk: Buffer, isLast: boolean) => void): void {
    this.req.on('data', (chunk: Buffer) => handler(chunk, false));
    this.req.once('end', () => handler(EMPTY, true));
  }

  pause(): void {
    this.req.pause();
  }

  resume(): void {
    this.req.resume();
  }
}
