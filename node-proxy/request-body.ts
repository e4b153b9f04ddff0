/**
 * A client's request body, as node:http's (strict) parser decoded it: counted, bounded, held until
 * the proxy knows what to do with it, and watched for clients that upload too slowly to be anything
 * but an attempt to hold the app's connections (issue 9 point 4). The proxy frames the upstream
 * request by what it read here, never by the client's headers.
 */
import { Readable } from 'node:stream';

/** What the server gives per request: its data callbacks and flow control. */
export interface BodySource {
  /** `chunk` stays valid after the call (node:http hands over buffers it no longer uses). */
  onData(handler: (chunk: Buffer, isLast: boolean) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

export type BodyErrorCode = 'CLIENT_BODY_TIMEOUT' | 'CLIENT_BODY_TOO_LARGE' | 'CLIENT_BODY_ABORTED';

export class BodyError extends Error {
  constructor(
    readonly code: BodyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes kept while nobody has asked for the body yet; past this the client is paused. */
const HOLD_BYTES = 64 * 1024;

const enum Mode {
  /** No consumer yet: chunks are kept. */
  Hold,
  Buffer,
  Stream,
  /** Answered without the body: the rest is read and dropped. */
  Discard,
}

export class RequestBody {
  received = 0;
  /** The body ended, in full or with `error`. */
  ended = false;
  error: BodyError | null = null;
  /** Paused by the proxy (nobody is reading): the upload watch does not count this time. */
  paused = false;
  /** The upload watch's current window. */
  windowStart: number;
  windowBytes = 0;
  private mode = Mode.Hold;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private target: Buffer | null = null;
  private stream: Readable | null = null;
  private settle: { resolve(b: Buffer): void; reject(e: Error): void } | null = null;
  private endWaiters: (() => void)[] = [];

  constructor(
    private readonly source: BodySource,
    /** A Content-Length the framing check accepted, or chunked (no more than maxBytes). */
    readonly length: number | 'chunked',
    private readonly maxBytes: number,
    private readonly watch: UploadWatch,
  ) {
    this.windowStart = Date.now();
    source.onData((chunk, isLast) => this.data(chunk, isLast));
    watch.uploads.add(this);
  }

  /** The whole body (a Content-Length body only); rejects with a BodyError. */
  buffer(): Promise<Buffer> {
    if (this.error) return Promise.reject(this.error);
    if (this.mode !== Mode.Hold || typeof this.length !== 'number') throw new Error('the request body was already taken');
    const target = Buffer.allocUnsafe(this.length);
    let at = 0;
    for (const chunk of this.held) at += chunk.copy(target, at);
    this.dropHeld();
    if (this.ended) return Promise.resolve(target);
    this.mode = Mode.Buffer;
    this.target = target;
    this.setPaused(false);
    return new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  /** The body as it arrives, with back-pressure to the client; errors with a BodyError. */
  readable(): Readable {
    if (this.mode !== Mode.Hold) throw new Error('the request body was already taken');
    const stream = new Readable({ read: () => this.setPaused(false) });
    stream.on('error', () => {});
    for (const chunk of this.held) stream.push(chunk);
    this.dropHeld();
    if (this.error) stream.destroy(this.error);
    else if (this.ended) stream.push(null);
    this.mode = Mode.Stream;
    this.stream = stream;
    return stream;
  }

  /** Nobody will read the rest of the body (the answer is out, or never needed it): it is read and dropped. */
  drain(): void {
    if (this.ended || this.mode === Mode.Discard || this.mode === Mode.Buffer) return;
    this.mode = Mode.Discard;
    this.dropHeld();
    this.setPaused(false);
  }

  /** Calls `fn` once the body has ended, in full or not (at once if it has). */
  whenEnded(fn: () => void): void {
    if (this.ended) fn();
    else this.endWaiters.push(fn);
  }

  fail(error: BodyError): void {
    if (this.ended) return;
    this.error = error;
    this.finish();
    this.settle?.reject(error);
    this.stream?.destroy(error);
    this.dropHeld();
    // Whatever else the client sends is read and dropped until the answer closes the connection.
    this.mode = Mode.Discard;
    this.setPaused(false);
    this.notify();
  }

  private data(chunk: Buffer, isLast: boolean): void {
    if (this.ended) return;
    const n = chunk.length;
    this.received += n;
    this.windowBytes += n;
    if (this.received > this.maxBytes) {
      this.fail(new BodyError('CLIENT_BODY_TOO_LARGE', `the request body exceeds ${this.maxBytes} bytes`));
      return;
    }
    if (n > 0) {
      switch (this.mode) {
        case Mode.Hold:
          this.held.push(chunk);
          this.heldBytes += n;
          if (this.heldBytes > HOLD_BYTES) this.setPaused(true);
          break;
        case Mode.Buffer:
          this.target!.set(chunk, this.received - n);
          break;
        case Mode.Stream:
          if (!this.stream!.push(chunk)) this.setPaused(true);
          break;
      }
    }
    if (!isLast) return;
    this.finish();
    if (this.mode === Mode.Buffer) this.settle!.resolve(this.target!);
    else if (this.mode === Mode.Stream) this.stream!.push(null);
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.watch.uploads.delete(this);
  }

  private notify(): void {
    const waiters = this.endWaiters;
    this.endWaiters = [];
    for (const fn of waiters) fn();
  }

  private dropHeld(): void {
    this.held = [];
    this.heldBytes = 0;
  }

  private setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    try {
      if (paused) this.source.pause();
      else this.source.resume();
    } catch {
      // The request is already over: nothing left to pace.
    }
  }
}

/**
 * Uploads in progress, checked on one timer: in every window of `windowMs` in which the proxy was
 * reading, a client must send at least `minBytesPerSecond` on average, or its upload fails with
 * CLIENT_BODY_TIMEOUT. That bounds both a stalled body and one trickled a byte at a time.
 */
export class UploadWatch {
  readonly uploads = new Set<RequestBody>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly windowMs: number,
    private readonly minBytesPerSecond: number,
  ) {
    this.timer = setInterval(() => this.check(Date.now()), Math.max(10, Math.min(1_000, windowMs / 4))).unref();
  }

  check(now: number): void {
    for (const body of this.uploads) {
      if (body.paused) {
        body.windowStart = now;
        body.windowBytes = 0;
        continue;
      }
      const elapsed = now - body.windowStart;
      if (elapsed < this.windowMs) continue;
      if (body.windowBytes < (this.minBytesPerSecond * elapsed) / 1000) {
        body.fail(new BodyError('CLIENT_BODY_TIMEOUT', `the request body arrived slower than ${this.minBytesPerSecond} bytes/s`));
      } else {
        body.windowStart = now;
        body.windowBytes = 0;
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
