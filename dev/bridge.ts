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
 */
import { createConnection, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Bridge {
  port: number;
  close(): Promise<void>;
}

export async function startBridge(target: { host: string; port: number }, listenPort = 0, serialize = false): Promise<Bridge> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: listenPort, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const turn = serialize ? new Turnstile() : undefined;
  wss.on('connection', (ws) => pipe(ws, createConnection(target), turn));
  const port = (wss.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

function pipe(ws: WebSocket, tcp: Socket, turn?: Turnstile): void {
  tcp.setNoDelay(true);
  const watcher = new TerminateWatcher();
  const idle = turn ? new IdleWatcher() : undefined;
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
    terminating ||= watcher.feed(data);
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
    if (idle?.feed(chunk)) release();
  });
  const closeBoth = () => {
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

/** Follows the backend stream (1-byte type + int32 length) and reports ReadyForQuery with status 'I'. */
class IdleWatcher {
  private header: number[] = [];
  private skip = 0;
  private readyStatusNext = false;

  feed(chunk: Buffer): boolean {
    let idle = false;
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        if (this.readyStatusNext) {
          idle = chunk[i] === 0x49; /* 'I' */
          this.readyStatusNext = false;
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
    }
    return idle;
  }
}

/**
 * Follows message boundaries of the frontend stream: untyped startup packets (SSL/GSS requests,
 * then the startup message), then typed messages (1-byte type + int32 length). Reports 'X'.
 */
class TerminateWatcher {
  private startup = true;
  private header: number[] = [];
  private skip = 0;

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
        if (h[0] === 0x58 /* 'X' */) return true;
        this.skip = h.readInt32BE(1) - 4;
      }
    }
    return false;
  }
}
