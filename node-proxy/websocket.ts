/**
 * WebSocket passthrough (issue 4, point 4): an `Upgrade` request is routed like any request, a `ws`
 * client connection is opened to the chosen backend first, and only then is the client upgraded
 * (`ws` on node:http's upgrade event), so a backend that refuses is a plain 502 and not a socket
 * that opens and dies. Messages, pings and closes are relayed both ways, frame by frame.
 *
 * Going away (issue 15 point 6): when a backend leaves the route table (its release retired, its
 * task drained), its open sockets get `drainMs` to finish, then both sides are closed with 1001
 * (going away); a backend that vanishes without a close frame, and a proxy shutting down, also
 * give the client 1001. Clients reconnect, and the new connection is routed to the live release.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { errorBody } from '../protocol/index.js';
import type { Backend } from './route-table.js';

/** What the upgrade handler needs from the router: a backend and the headers to send it, or a refusal. */
export type UpgradeRoute =
  | { backend: Backend; headers: Record<string, string> }
  | { status: number; code: string; message: string };

const OPEN_TIMEOUT_MS = 10_000;
const MAX_MESSAGE = 16 * 1024 * 1024;
const GOING_AWAY = 1001;
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

/** One client socket and its backend socket. */
class Relay {
  drainTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly client: WebSocket,
    readonly upstream: WebSocket,
    readonly backendKey: string,
  ) {}

  goAway(reason: string): void {
    clearTimeout(this.drainTimer);
    if (this.client.readyState === WebSocket.OPEN) this.client.close(GOING_AWAY, reason);
    if (this.upstream.readyState === WebSocket.OPEN) this.upstream.close(GOING_AWAY, reason);
  }
}

export class WebSockets {
  private readonly relays = new Set<Relay>();
  /** The subprotocol each backend chose, told to the client in the handshake. */
  private readonly chosen = new WeakMap<IncomingMessage, string>();
  private readonly server: WebSocketServer;

  constructor(
    /** How long sockets to a backend that left the route table stay open. */
    private readonly drainMs: number,
    private readonly onCount: (delta: number) => void,
    private readonly log: (m: string) => void,
  ) {
    this.server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE,
      handleProtocols: (_offered, req) => this.chosen.get(req) || false,
    });
  }

  get size(): number {
    return this.relays.size;
  }

  /** node:http's upgrade event, once routed. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, route: UpgradeRoute): Promise<void> {
    socket.on('error', () => {});
    if ('status' in route) return refuse(socket, route.status, route.code, route.message);
    const key = req.headers['sec-websocket-key'];
    if (req.method !== 'GET' || !key || !WEBSOCKET_KEY.test(key) || req.headers['sec-websocket-version'] !== '13') {
      return refuse(socket, 400, 'bad_request', 'not a valid WebSocket handshake (GET, Sec-WebSocket-Key, Sec-WebSocket-Version: 13)');
    }
    const { backend, headers } = route;
    for (const name of ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']) delete headers[name];
    const protocols = req.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim()).filter(Boolean);
    const upstream = new WebSocket(`ws://${backend.key}${req.url ?? '/'}`, protocols, {
      headers,
      handshakeTimeout: OPEN_TIMEOUT_MS,
      maxPayload: MAX_MESSAGE,
      perMessageDeflate: false,
    });
    // Frames that arrive before the client side is open (even in the handshake's packet) wait here.
    const early: [WebSocket.RawData, boolean][] = [];
    upstream.on('message', (data, isBinary) => early.push([data, isBinary]));
    const opened = await new Promise<Error | null>((resolve) => {
      upstream.once('open', () => resolve(null));
      upstream.once('error', (err) => resolve(err));
      upstream.once('unexpected-response', (_req, res) => resolve(new Error(`backend answered ${res.statusCode} to the upgrade`)));
    });
    if (opened) {
      this.log(`websocket upstream ${backend.key} failed: ${opened.message}`);
      upstream.terminate();
      return refuse(socket, 502, 'bad_gateway', 'the app did not accept the WebSocket connection');
    }
    if (socket.destroyed) {
      upstream.terminate(); // the client went away while we connected
      return;
    }
    if (upstream.protocol) this.chosen.set(req, upstream.protocol);
    this.server.handleUpgrade(req, socket, head, (client) => this.relay(client, upstream, backend.key, early));
  }

  /** After a route table change: sockets to backends no longer routed get `drainMs`, then 1001. */
  retain(keys: Set<string>): void {
    for (const relay of this.relays) {
      if (keys.has(relay.backendKey)) {
        clearTimeout(relay.drainTimer);
        relay.drainTimer = undefined;
      } else if (!relay.drainTimer) {
        relay.drainTimer = setTimeout(() => relay.goAway('the app instance was retired'), this.drainMs);
        relay.drainTimer.unref();
      }
    }
  }

  /** The proxy shuts down: every socket is told it is going away. */
  close(): void {
    for (const relay of this.relays) relay.goAway('the proxy is shutting down');
  }

  private relay(client: WebSocket, upstream: WebSocket, backendKey: string, early: [WebSocket.RawData, boolean][]): void {
    if (upstream.readyState !== WebSocket.OPEN) {
      client.close(GOING_AWAY, 'the app went away');
      return;
    }
    const relay = new Relay(client, upstream, backendKey);
    this.relays.add(relay);
    this.onCount(1);
    upstream.removeAllListeners('message');
    for (const [data, isBinary] of early) client.send(data, { binary: isBinary });
    upstream.on('message', (data, isBinary) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
    upstream.on('ping', (data) => {
      if (client.readyState === WebSocket.OPEN) client.ping(data);
    });
    upstream.on('close', (code, reason) => closeWith(client, code, reason));
    upstream.on('error', (err) => {
      this.log(`websocket upstream error: ${err.message}`);
      if (client.readyState === WebSocket.OPEN) client.close(1011, 'upstream error');
    });
    client.on('message', (data, isBinary) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
    });
    client.on('ping', (data) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.ping(data);
    });
    client.on('error', () => {});
    client.on('close', (code, reason) => {
      clearTimeout(relay.drainTimer);
      this.relays.delete(relay);
      this.onCount(-1);
      closeWith(upstream, code, reason);
    });
  }
}

/**
 * Passes a close on to the other side. 1005 (no code given) is passed on as a close without a
 * code; 1006 (the peer vanished without a close frame: a stopped or crashed app) becomes 1001, going
 * away; 1015 and other codes that may not be sent become 1000.
 */
function closeWith(socket: WebSocket, code: number, reason: Buffer): void {
  if (socket.readyState !== WebSocket.OPEN && socket.readyState !== WebSocket.CONNECTING) return;
  if (socket.readyState === WebSocket.CONNECTING) return socket.terminate();
  if (code === 1005) return socket.close();
  if (code === 1006) return socket.close(GOING_AWAY, 'the app went away');
  socket.close(code < 1000 || code === 1015 || (code > 1014 && code < 3000) ? 1000 : code, reason);
}

/** An answer on the raw socket of an upgrade request (no HTTP response object exists for it). */
export function refuse(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
