/**
 * One keep-alive TCP connection to a backend carrying one request at a time. The request head and
 * a buffered body leave in one write; the response is parsed as it arrives and handed to the
 * exchange's sink. Deadlines are checked by the pool's sweeper rather than a timer per request.
 */
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ResponseParser, type ResponseHead } from './response-parser.js';

export interface UpstreamRequest {
  method: string;
  /** Request line and headers, ending in the blank line; framing headers included. */
  head: string;
  /** Buffered (sent with the head in one write), streamed as it arrives, or none. */
  body: Buffer | Readable | undefined;
  /** Stream bodies without a Content-Length go out in chunked coding. */
  chunked: boolean;
  /** A streamed body's declared Content-Length: a body that differs fails the exchange and the connection. */
  length?: number;
  /** May be sent again on a fresh connection when a reused one turns out to be closed. */
  retryable: boolean;
  /** Who the request is for (the client's address): the pool caps each one's share of its connections. */
  client?: string;
  /** This attempt's wait for the response head, when shorter than the pool's (another backend could answer). */
  headersMs?: number;
}

export interface ResponseSink {
  onHead(head: ResponseHead): void;
  /** Returning false pauses reading from the backend until the exchange is resumed. */
  onBody(chunk: Buffer): boolean;
  onEnd(): void;
  /** Before the head: the request may be retried; after it: the response is cut short. */
  onError(err: UpstreamError): void;
}

export class UpstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ConnectionOwner {
  /** The response is complete and the connection may carry another request (or not). */
  released(conn: Connection, reusable: boolean): void;
  /** The connection failed or closed; `busy` tells whether a request was on it. */
  failed(conn: Connection, err: UpstreamError): void;
}

export interface Timeouts {
  connectMs: number;
  /** From the request being sent in full (a streamed body may take longer) to the response head. */
  headersMs: number;
  /** Between two reads of the response body. */
  bodyIdleMs: number;
}

const CHUNK_END = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

export class Connection {
  readonly socket: Socket;
  private readonly parser: ResponseParser;
  private connected = false;
  private sink: ResponseSink | null = null;
  private request: UpstreamRequest | null = null;
  private ended = false;
  private paused = false;
  private closed = false;
  /** Bytes of the current response seen; none means the backend never answered this request. */
  gotBytes = false;
  /** Has carried a request before (a stale keep-alive socket is possible). */
  reused = false;
  /** When the current wait times out (0: none); checked by the pool's sweeper. */
  deadline = 0;
  deadlineCode = '';
  idleSince = 0;

  constructor(
    host: string,
    port: number,
    private readonly timeouts: Timeouts,
    private readonly owner: ConnectionOwner,
  ) {
    this.parser = new ResponseParser({
      onHead: (head) => {
        this.deadline = Date.now() + this.timeouts.bodyIdleMs;
        this.deadlineCode = 'UPSTREAM_BODY_TIMEOUT';
        this.sink!.onHead(head);
      },
      onBody: (chunk) => {
        this.deadline = Date.now() + this.timeouts.bodyIdleMs;
        if (!this.sink!.onBody(chunk)) this.pause();
      },
      onEnd: () => {
        this.ended = true;
        this.sink!.onEnd();
      },
    });
    this.socket = connect({ host, port, noDelay: true });
    this.deadline = Date.now() + timeouts.connectMs;
    this.deadlineCode = 'UPSTREAM_CONNECT_TIMEOUT';
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.onClose(null));
    this.socket.on('close', () => this.onClose(null));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onClose(err));
  }

  get busy(): boolean {
    return this.sink !== null;
  }

  /** The sink of the request on this connection, if any (also after a failure, for the owner to report to). */
  get current(): ResponseSink | null {
    return this.sink;
  }

  send(req: UpstreamRequest, sink: ResponseSink): void {
    this.request = req;
    this.sink = sink;
    this.ended = false;
    this.gotBytes = false;
    this.parser.expect(req.method);
    if (this.connected) this.write(req);
  }

  /** The sink can take more body again. */
  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.deadline = Date.now() + this.timeouts.bodyIdleMs;
    this.socket.resume();
  }

  /** Ends the connection without telling the sink (which asked for it or already knows). */
  destroy(): void {
    this.sink = null;
    this.closed = true;
    this.socket.destroy();
  }

  /** Fails the request on this connection with `err` (the backend is given up on). */
  abandon(err: UpstreamError): void {
    this.fail(err);
  }

  /** Called by the sweeper when the deadline passed. */
  timeOut(): void {
    const what = this.deadlineCode === 'UPSTREAM_CONNECT_TIMEOUT' ? 'connect to the app' : this.deadlineCode === 'UPSTREAM_HEADERS_TIMEOUT' ? 'the app to answer' : 'more of the response';
    this.fail(new UpstreamError(this.deadlineCode, `timed out waiting for ${what}`));
  }

  private onConnect(): void {
    this.connected = true;
    this.deadline = 0;
    if (this.request && this.sink) this.write(this.request);
    else this.idleSince = Date.now();
  }

  private write(req: UpstreamRequest): void {
    this.awaitHead();
    const { socket } = this;
    if (req.body === undefined) {
      socket.write(req.head);
    } else if (Buffer.isBuffer(req.body)) {
      socket.cork();
      socket.write(req.head);
      socket.write(req.body);
      socket.uncork();
    } else {
      socket.write(req.head);
      this.pipeBody(req.body, req.chunked, req.length);
    }
  }

  private awaitHead(): void {
    this.deadline = Date.now() + (this.request?.headersMs ?? this.timeouts.headersMs);
    this.deadlineCode = 'UPSTREAM_HEADERS_TIMEOUT';
  }

  /** Streams a request body with back-pressure both ways; the wait for the answer starts at its end. */
  private pipeBody(body: Readable, chunked: boolean, declared: number | undefined): void {
    const { socket } = this;
    this.deadline = 0;
    let sent = 0;
    // More or fewer bytes than declared would leave the app reading the next request as this body.
    const wrongLength = () =>
      this.fail(new UpstreamError('CLIENT_BODY_LENGTH', `the client's request body did not match its Content-Length of ${declared} bytes`));
    const onDrain = () => body.resume();
    socket.on('drain', onDrain);
    body.on('data', (chunk: Buffer) => {
      // An empty chunk in chunked coding would read as the end of the body.
      if (this.closed || chunk.length === 0) return;
      sent += chunk.length;
      if (!chunked && declared !== undefined && sent > declared) return wrongLength();
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        ok = socket.write(CHUNK_END);
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) body.pause();
    });
    body.once('end', () => {
      socket.off('drain', onDrain);
      if (this.closed) return;
      if (!chunked && declared !== undefined && sent !== declared) return wrongLength();
      if (chunked) socket.write(LAST_CHUNK);
      if (this.deadlineCode === 'UPSTREAM_HEADERS_TIMEOUT') this.awaitHead();
    });
    body.once('error', (err: Error & { code?: string }) => {
      socket.off('drain', onDrain);
      // The reader's own code (too slow, too large) tells the caller what to answer.
      const code = err.code?.startsWith('CLIENT_') ? err.code : 'CLIENT_BODY_ABORTED';
      this.fail(new UpstreamError(code, `the client's request body ended early: ${err.message}`));
    });
  }

  private onData(chunk: Buffer): void {
    if (!this.sink) {
      // Bytes while idle: the backend answered something nobody asked; never reuse this socket.
      this.fail(new UpstreamError('UPSTREAM_BAD_RESPONSE', 'the app sent bytes without a request'));
      return;
    }
    this.gotBytes = true;
    let leftover: number;
    try {
      leftover = this.parser.feed(chunk);
    } catch (err) {
      this.fail(new UpstreamError('UPSTREAM_BAD_RESPONSE', `the app sent an invalid response: ${(err as Error).message}`));
      return;
    }
    if (this.ended) this.finishExchange(leftover === 0 && this.parser.reusable);
  }

  private finishExchange(reusable: boolean): void {
    const body = this.request?.body;
    // A request body still being sent (the app answered early) leaves the connection mid-message.
    const bodyPending = body !== undefined && !Buffer.isBuffer(body) && !body.readableEnded;
    this.sink = null;
    this.request = null;
    this.deadline = 0;
    this.reused = true;
    if (this.paused) {
      // Paused on the last chunk: the next response must be read.
      this.paused = false;
      this.socket.resume();
    }
    this.idleSince = Date.now();
    if (!reusable || bodyPending) this.destroy();
    this.owner.released(this, reusable && !bodyPending);
  }

  private pause(): void {
    this.paused = true;
    this.deadline = 0; // a slow client is not the app's fault
    this.socket.pause();
  }

  private onClose(err: NodeJS.ErrnoException | null): void {
    if (this.closed) return;
    if (this.sink && !err && this.parser.endsAtClose) {
      this.parser.finish();
      this.closed = true;
      this.finishExchange(false);
      return;
    }
    const code = err?.code ?? 'ECONNRESET';
    const message = err
      ? `${err.message}`
      : this.gotBytes
        ? 'the app closed the connection before the response was complete'
        : 'the app closed the connection without answering';
    this.fail(new UpstreamError(code, message));
  }

  private fail(err: UpstreamError): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.owner.failed(this, err);
  }
}
