/**
 * WebSocket-to-TCP bridge: what Neon runs in front of Postgres, for one machine. The Neon driver
 * (in Node and in workerd) opens ws://host:port/v2 and speaks the Postgres wire protocol through it.
 * After the client's Terminate message the TCP side is closed, because pglite-socket does not close
 * the connection itself and the driver would wait for it.
 *
 * With `serialize` (for PGlite, which has one backend), connections take turns at protocol level: a
 * connection holds the backend from its first message until the server reports ReadyForQuery with
 * status idle. pglite-socket interleaves extended-query messages of concurrent connections otherwise
 * ("portal does not exist"), and a transaction must not be split by another connection anyway.
 *
 * Counters (client messages by type, connections) and hooks (a backend's process id at start and
 * when its client terminates) let `npm run bench:fleet` count round trips and server CPU per request.
 */
import { createConnection, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface BridgeCounters {
  /** Connections accepted so far. */
  connections: number;
  /** Client (frontend) messages so far by type byte: 'Q' simple query, 'P' parse, 'S' sync, 'X' terminate… */
  messages: Record<string, number>;
}

export interface BridgeHooks {
  /** The server's process id for a new connection (from BackendKeyData). */
  onBackendStart?(pid: number): void;
  /**
   * The connection's client is done: called synchronously when its Terminate arrives, before the
   * backend sees it (so the backend's /proc entry still exists), or when the connection closes without one.
   */
  onBackendEnd?(pid: number): void;
}

export interface Bridge {
  port: number;
  counters: BridgeCounters;
  close(): Promise<void>;
}

export async function startBridge(
  target: { host: string; port: number },
  listenPort = 0,
  serialize = false,
  hooks: BridgeHooks = {},
): Promise<Bridge> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: listenPort, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const turn = serialize ? new Turnstile() : undefined;
  const counters: BridgeCounters = { connections: 0, messages: {} };
  wss.on('connection', (ws) => {
    counters.connections++;
    pipe(ws, createConnection(target), { turn, counters, hooks });
  });
  const port = (wss.address() as { port: number }).port;
  return {
    port,
    counters,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

interface PipeOptions {
  turn: Turnstile | undefined;
  counters: BridgeCounters;
  hooks: BridgeHooks;
}

function pipe(ws: WebSocket, tcp: Socket, { turn, counters, hooks }: PipeOptions): void {
  tcp.setNoDelay(true);
  const watcher = new FrontendWatcher(counters.messages);
  // The backend stream is parsed only when something needs it: serialising, or a hook.
  const backend = turn || hooks.onBackendStart || hooks.onBackendEnd ? new BackendWatcher() : undefined;
  let backendPid: number | undefined;
  const backendEnded = () => {
    if (backendPid !== undefined) hooks.onBackendEnd?.(backendPid);
    backendPid = undefined;
  };
  const pending: Buffer[] = [];
  let connected = false;
  let holding = false;
  let waiting = false;
  let terminating = false;
  const flush = () => {
    if (!connected || (turn && !holding)) return;
    for (const chunk of pending) tcp.write(chunk);
    pending.length = 0;
    if (terminating) tcp.end();
  };
  const release = () => {
    if (holding) turn!.release();
    holding = false;
  };
  tcp.on('connect', () => {
    connected = true;
    flush();
  });
  ws.on('message', (data: Buffer) => {
    if (!terminating && watcher.feed(data)) {
      terminating = true;
      backendEnded();
    }
    pending.push(data);
    if (turn && !holding && !waiting) {
      waiting = true;
      void turn.acquire().then(() => {
        waiting = false;
        holding = true;
        flush();
      });
    }
    flush();
  });
  tcp.on('data', (chunk) => {
    if (ws.readyState === ws.OPEN) ws.send(chunk);
    if (!backend) return;
    const seen = backend.feed(chunk);
    if (seen.pid !== undefined && backendPid === undefined) {
      backendPid = seen.pid;
      hooks.onBackendStart?.(seen.pid);
    }
    if (seen.idle && turn) release();
  });
  const closeBoth = () => {
    backendEnded();
    release();
    tcp.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
  };
  tcp.on('close', closeBoth);
  tcp.on('error', closeBoth);
  ws.on('close', closeBoth);
  ws.on('error', closeBoth);
}

/** One holder at a time, first come first served. */
class Turnstile {
  private held = false;
  private queue: (() => void)[] = [];

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.held = false;
  }
}

/**
 * Follows the backend stream (1-byte type + int32 length): reports the process id in BackendKeyData
 * ('K') and ReadyForQuery with status 'I' (idle).
 */
class BackendWatcher {
  private header: number[] = [];
  private skip = 0;
  private readyStatusNext = false;
  private pidBytes: number[] | undefined;

  feed(chunk: Buffer): { idle: boolean; pid?: number } {
    let idle = false;
    let pid: number | undefined;
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        if (this.readyStatusNext) {
          idle = chunk[i] === 0x49; /* 'I' */
          this.readyStatusNext = false;
        }
        if (this.pidBytes) {
          // BackendKeyData: int32 process id, int32 secret key; the id may be split across chunks.
          this.pidBytes.push(chunk[i]!);
          this.skip--;
          i++;
          if (this.pidBytes.length === 4) {
            pid = Buffer.from(this.pidBytes).readInt32BE(0);
            this.pidBytes = undefined;
          }
          continue;
        }
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length < 5) continue;
      const h = Buffer.from(this.header);
      this.header = [];
      this.skip = h.readInt32BE(1) - 4;
      // ReadyForQuery ('Z') carries one status byte: I idle, T in transaction, E failed transaction.
      this.readyStatusNext = h[0] === 0x5a && this.skip === 1;
      if (h[0] === 0x4b /* 'K' */ && this.skip >= 4) this.pidBytes = [];
    }
    return { idle, pid };
  }
}

/**
 * Follows message boundaries of the frontend stream: untyped startup packets (SSL/GSS requests,
 * then the startup message), then typed messages (1-byte type + int32 length). Counts typed
 * messages by type and reports 'X'.
 */
class FrontendWatcher {
  private startup = true;
  private header: number[] = [];
  private skip = 0;

  constructor(private readonly counts: Record<string, number>) {}

  feed(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header.push(chunk[i++]!);
      const need = this.startup ? 8 : 5;
      if (this.header.length < need) continue;
      const h = Buffer.from(this.header);
      this.header = [];
      if (this.startup) {
        const len = h.readInt32BE(0);
        const code = h.readInt32BE(4);
        // 80877103 = SSLRequest, 80877104 = GSSENCRequest: another startup packet follows.
        if (code !== 80877103 && code !== 80877104) this.startup = false;
        this.skip = len - 8;
      } else {
        const type = String.fromCharCode(h[0]!);
        this.counts[type] = (this.counts[type] ?? 0) + 1;
        if (h[0] === 0x58 /* 'X' */) return true;
        this.skip = h.readInt32BE(1) - 4;
      }
    }
    return false;
  }
}
