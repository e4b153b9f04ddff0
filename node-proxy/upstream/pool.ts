/**
 * Keep-alive connections to one backend: idle ones reused newest first (warm in the app and the
 * kernel), at most `maxConnections` open, further requests queued for at most `queueMs`. No client
 * address has more than `maxPerClient` requests sent or queued, so one client cannot hold all the
 * connections. A request that finds a reused connection already closed by the app is sent once more
 * on a fresh one when that is safe.
 */
import { Connection, UpstreamError, type ConnectionOwner, type ResponseSink, type Timeouts, type UpstreamRequest } from './connection.js';
import type { ResponseHead } from './response-parser.js';

/** Failures where the app may have the request: never resent to the same backend. */
const NOT_RESENT = new Set(['UPSTREAM_HEADERS_TIMEOUT', 'UPSTREAM_REMOVED']);

export interface PoolOptions extends Timeouts {
  maxConnections: number;
  /** Idle connections are closed after this long; below the apps' own keep-alive timeout (Node: 5 s). */
  keepAliveMs: number;
  /** A request waiting this long for a free connection fails with UPSTREAM_QUEUE_TIMEOUT. */
  queueMs: number;
  /** Requests of one client (UpstreamRequest.client) sent or queued at once; more fail with UPSTREAM_CLIENT_LIMIT. */
  maxPerClient: number;
}

/**
 * A request handed to the pool: lets the caller resume a paused body or give up. It is also the
 * sink its connection reports to, so the pool's accounting sees each exchange end.
 */
export class Exchange implements ResponseSink {
  conn: Connection | null = null;
  retried = false;
  aborted = false;
  /** When it was queued (0: never), for the queue deadline. */
  queuedAt = 0;
  /** Its client's count, while it is counted. */
  share: ClientShare | null = null;

  constructor(
    readonly request: UpstreamRequest,
    readonly sink: ResponseSink,
    private readonly pool: UpstreamPool,
  ) {}

  onHead(head: ResponseHead): void {
    this.sink.onHead(head);
  }

  onBody(chunk: Buffer): boolean {
    return this.sink.onBody(chunk);
  }

  onEnd(): void {
    this.pool.settle(this);
    this.sink.onEnd();
  }

  onError(err: UpstreamError): void {
    this.pool.settle(this);
    this.sink.onError(err);
  }

  resume(): void {
    this.conn?.resume();
  }

  /** The client went away: drop the connection (its response may never end) or the queue slot. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    if (this.conn) this.pool.discard(this);
    else this.pool.unqueue(this);
  }
}

/** Requests of one client sent or queued; kept while in use, dropped by the sweep once at 0. */
class ClientShare {
  n = 0;
}

export class UpstreamPool implements ConnectionOwner {
  private readonly idle: Connection[] = [];
  private readonly queue: Exchange[] = [];
  readonly connections = new Set<Connection>();
  /** Requests sent or queued and not yet answered in full: what least-outstanding balancing compares. */
  inflight = 0;
  /** The same, per client address (requests that name one). */
  private readonly shares = new Map<string, ClientShare>();
  private closing = false;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly opts: PoolOptions,
  ) {}

  request(request: UpstreamRequest, sink: ResponseSink): Exchange {
    const exchange = new Exchange(request, sink, this);
    const { client } = request;
    if (client !== undefined) {
      let share = this.shares.get(client);
      if (share === undefined) this.shares.set(client, (share = new ClientShare()));
      if (share.n >= this.opts.maxPerClient) {
        // Never counted, never queued: abort() finds nothing to undo.
        sink.onError(new UpstreamError('UPSTREAM_CLIENT_LIMIT', `this client already has ${share.n} requests to the app in flight`));
        return exchange;
      }
      share.n++;
      exchange.share = share;
    }
    this.inflight++;
    this.dispatch(exchange, false);
    return exchange;
  }

  private dispatch(exchange: Exchange, fresh: boolean): void {
    if (this.closing) {
      this.settle(exchange);
      exchange.sink.onError(new UpstreamError('ECONNREFUSED', 'the proxy is shutting down its connections to this app'));
      return;
    }
    const conn = (!fresh && this.idle.pop()) || (this.connections.size < this.opts.maxConnections ? this.open() : null);
    if (!conn) {
      exchange.queuedAt = Date.now();
      this.queue.push(exchange);
      return;
    }
    this.run(conn, exchange);
  }

  private run(conn: Connection, exchange: Exchange): void {
    exchange.conn = conn;
    conn.send(exchange.request, exchange);
  }

  settle(exchange: Exchange): void {
    exchange.conn = null;
    this.uncount(exchange);
  }

  private uncount(exchange: Exchange): void {
    this.inflight--;
    if (exchange.share) {
      exchange.share.n--;
      exchange.share = null;
    }
  }

  private open(): Connection {
    const conn = new Connection(this.host, this.port, this.opts, this);
    this.connections.add(conn);
    return conn;
  }

  released(conn: Connection, reusable: boolean): void {
    if (reusable && this.closing) {
      conn.destroy();
      reusable = false;
    }
    if (!reusable) this.connections.delete(conn);
    const next = this.nextQueued();
    if (reusable && next) return this.run(conn, next);
    if (reusable) this.idle.push(conn);
    else if (next) this.dispatch(next, false);
  }

  failed(conn: Connection, err: UpstreamError): void {
    this.forget(conn);
    // The pool always hands a connection an Exchange as its sink.
    const exchange = conn.current as Exchange | null;
    if (exchange && !exchange.aborted) {
      // A keep-alive socket the app closed as we wrote to it: the request never reached the app.
      if (conn.reused && !conn.gotBytes && exchange.request.retryable && !exchange.retried && !NOT_RESENT.has(err.code)) {
        exchange.retried = true;
        exchange.conn = null;
        this.dispatch(exchange, true);
      } else {
        this.settle(exchange);
        exchange.sink.onError(err);
      }
    }
    const next = this.nextQueued();
    if (next) this.dispatch(next, false);
  }

  /** Called by an aborted exchange: its connection goes (the response may never end). */
  discard(exchange: Exchange): void {
    const conn = exchange.conn!;
    this.settle(exchange);
    this.forget(conn);
    conn.destroy();
    const next = this.nextQueued();
    if (next) this.dispatch(next, false);
  }

  unqueue(exchange: Exchange): void {
    const i = this.queue.indexOf(exchange);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.uncount(exchange);
    }
  }

  private nextQueued(): Exchange | undefined {
    return this.queue.shift();
  }

  private forget(conn: Connection): void {
    this.connections.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /**
   * Times out overdue and long-queued requests, closes connections idle for longer than keepAliveMs,
   * and forgets clients with nothing in flight (kept until now so a client's every request does not
   * add and remove its entry).
   */
  sweep(now: number): void {
    for (const [client, share] of this.shares) if (share.n === 0) this.shares.delete(client);
    // Queued in order: the oldest are first.
    while (this.queue.length > 0 && now - this.queue[0]!.queuedAt > this.opts.queueMs) {
      this.queue.shift()!.onError(new UpstreamError('UPSTREAM_QUEUE_TIMEOUT', `no connection to the app was free within ${this.opts.queueMs} ms`));
    }
    for (const conn of this.connections) {
      if (conn.busy) {
        if (conn.deadline !== 0 && now > conn.deadline) conn.timeOut();
      } else if (now - conn.idleSince > this.opts.keepAliveMs) {
        this.forget(conn);
        conn.destroy();
      }
    }
  }

  /** Requests sent that have had no byte of answer yet. */
  waiting(): Connection[] {
    return [...this.connections].filter((conn) => conn.busy && !conn.gotBytes);
  }

  /** Closes idle connections now and the others once their responses end. */
  close(): void {
    this.closing = true;
    // Nothing will release a connection to them any more: the caller may retry elsewhere.
    for (const exchange of this.queue.splice(0)) exchange.onError(new UpstreamError('ECONNREFUSED', 'the app left the route table'));
    for (const conn of this.idle.splice(0)) {
      this.connections.delete(conn);
      conn.destroy();
    }
  }

  /** Ends every connection at once. */
  destroy(): void {
    this.close();
    // close() ended the idle ones: every connection left carries an exchange.
    for (const conn of [...this.connections]) {
      const exchange = conn.current as Exchange;
      this.discard(exchange);
      exchange.sink.onError(new UpstreamError('ECONNRESET', 'the proxy is shutting down'));
    }
    for (const exchange of this.queue.splice(0)) exchange.onError(new UpstreamError('ECONNREFUSED', 'the proxy is shutting down'));
  }
}
