/**
 * WebSocket-to-TCP bridge: what Neon runs in front of Postgres, for one machine. The Neon driver
 * (in Node and in workerd) opens ws://host:port/v2 and speaks the Postgres wire protocol through it.
 * After the client's Terminate message the TCP side is closed, because pglite-socket does not close
 * the connection itself and the driver would wait for it.
 */
import { createConnection, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Bridge {
  port: number;
  close(): Promise<void>;
}

export async function startBridge(target: { host: string; port: number }, listenPort = 0): Promise<Bridge> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: listenPort, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (ws) => pipe(ws, createConnection(target)));
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

function pipe(ws: WebSocket, tcp: Socket): void {
  tcp.setNoDelay(true);
  const watcher = new TerminateWatcher();
  const pending: Buffer[] = [];
  let connected = false;
  tcp.on('connect', () => {
    connected = true;
    for (const chunk of pending) tcp.write(chunk);
    pending.length = 0;
  });
  ws.on('message', (data: Buffer) => {
    const terminate = watcher.feed(data);
    if (connected) tcp.write(data);
    else pending.push(data);
    if (terminate) tcp.end();
  });
  tcp.on('data', (chunk) => {
    if (ws.readyState === ws.OPEN) ws.send(chunk);
  });
  const closeBoth = () => {
    tcp.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
  };
  tcp.on('close', closeBoth);
  tcp.on('error', closeBoth);
  ws.on('close', () => tcp.destroy());
  ws.on('error', () => tcp.destroy());
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
