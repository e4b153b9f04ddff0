/**
 * WebSocket passthrough (issue 4, point 4): an `Upgrade` request is routed like any request, a `ws`
 * client connection is opened to the chosen backend first, and only then is the client upgraded,
 * so a backend that refuses is a plain 502 and not a socket that opens and dies. Messages, pings
 * and closes are relayed both ways, frame by frame.
 */
import type { Request, Response, Server, Websocket } from 'hyper-express';
import WebSocket from 'ws';
import { errorBody } from '../protocol/index.js';
import type { Backend } from './route-table.js';

/** What the upgrade handler needs from the router: a backend and the headers to send it, or a refusal. */
export type UpgradeRoute =
  | { backend: Backend; headers: Record<string, string> }
  | { status: number; code: string; message: string };

const OPEN_TIMEOUT_MS = 10_000;
const MAX_MESSAGE = 16 * 1024 * 1024;

export function attachWebSockets(
  app: Server,
  route: (req: Request) => UpgradeRoute,
  onCount: (delta: number) => void,
  log: (m: string) => void,
): void {
  // Upstream sockets waiting for their client side to open, by a per-upgrade id kept in the uWS context.
  const pending = new Map<string, WebSocket>();
  let nextId = 0;

  app.upgrade('/*', async (request: Request, response: Response) => {
    const r = route(request);
    if ('status' in r) return refuse(response, r.status, r.code, r.message);
    const { backend, headers } = r;
    delete headers['sec-websocket-key'];
    delete headers['sec-websocket-version'];
    delete headers['sec-websocket-extensions'];
    const protocols = request.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim()).filter(Boolean);
    delete headers['sec-websocket-protocol'];
    const upstream = new WebSocket(`ws://${backend.key}${request.url}`, protocols, {
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
      log(`websocket upstream ${backend.key} failed: ${opened.message}`);
      upstream.terminate();
      return refuse(response, 502, 'bad_gateway', 'the app did not accept the WebSocket connection');
    }
    if (response.completed) {
      upstream.terminate(); // the client went away while we connected
      return;
    }
    const id = String(nextId++);
    pending.set(id, upstream);
    (upstream as WebSocket & { early?: typeof early }).early = early;
    response.upgrade({ id });
  });

  app.ws('/*', { message_type: 'Buffer', max_payload_length: MAX_MESSAGE, idle_timeout: 0 }, (client: Websocket) => {
    const id = (client.context as { id: string }).id;
    const upstream = pending.get(id) as (WebSocket & { early?: [WebSocket.RawData, boolean][] }) | undefined;
    pending.delete(id);
    if (!upstream || upstream.readyState !== WebSocket.OPEN) return client.close(1011, 'upstream gone');
    onCount(1);
    let clientOpen = true;
    upstream.removeAllListeners('message');
    for (const [data, isBinary] of upstream.early ?? []) client.send(toBuffer(data), isBinary);
    upstream.on('message', (data, isBinary) => {
      if (clientOpen) client.send(toBuffer(data), isBinary);
    });
    upstream.on('ping', (data) => {
      if (clientOpen) client.ping(data);
    });
    upstream.on('close', (code, reason) => {
      if (clientOpen) client.close(closableCode(code), reason);
    });
    upstream.on('error', (err) => {
      log(`websocket upstream error: ${err.message}`);
      if (clientOpen) client.close(1011, 'upstream error');
    });
    client.on('message', (data: Buffer, isBinary: boolean) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
    });
    client.on('ping', (data: Buffer) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.ping(data);
    });
    client.on('close', (code: number, reason: Buffer) => {
      clientOpen = false;
      onCount(-1);
      if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) {
        upstream.close(closableCode(code), reason);
      }
    });
  });
}

function refuse(response: Response, status: number, code: string, message: string): void {
  if (response.completed) return;
  response.status(status).header('cache-control', 'no-store').json(errorBody(code, message));
}

function toBuffer(data: WebSocket.RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
}

/** 1005/1006/1015 are reserved for "no code"/"abnormal"/"TLS" and may not be sent in a close frame. */
function closableCode(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 || code < 1000 ? 1000 : code;
}
