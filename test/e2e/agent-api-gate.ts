/**
 * A forwarding HTTP hop between an agent and the control plane (the agent's ZECTRE_API_URL), for fault
 * tests: it can stall artifact downloads after their first bytes (a slow registry) and hold heartbeats
 * until released (a slow or unreachable control plane), and it records the log lines the agent ships.
 * It stands in for the network, not for any part of Zectre: every request it lets through reaches the
 * real Worker unchanged.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { freePort } from '../../dev/ports.js';

const STALL_AFTER_BYTES = 64 * 1024;

export interface ApiGate {
  url: string;
  /** Artifact downloads answer their first 64 KB, then nothing, until the connection closes. */
  stallBlobs: boolean;
  /** Stalled downloads so far. */
  stalled: number;
  /** Heartbeats wait here until release() (or until holdHeartbeats is false for new ones). */
  holdHeartbeats: boolean;
  heldHeartbeats: number;
  release(): void;
  /** Lines of log batches the agent sent, per task id. */
  logLines(taskId: string): string[];
  close(): Promise<void>;
}

export async function startApiGate(targetPort: number): Promise<ApiGate> {
  const port = await freePort();
  const lines = new Map<string, string[]>();
  let released: () => void = () => undefined;
  let releasing = new Promise<void>((resolve) => (released = resolve));
  const gate: ApiGate = {
    url: `http://127.0.0.1:${port}`,
    stallBlobs: false,
    stalled: 0,
    holdHeartbeats: false,
    heldHeartbeats: 0,
    release() {
      gate.holdHeartbeats = false;
      released();
      releasing = new Promise<void>((resolve) => (released = resolve));
    },
    logLines: (taskId) => lines.get(taskId) ?? [],
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };

  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    const body = Buffer.concat(await req.toArray());
    const path = req.url ?? '/';
    const logs = /^\/api\/v1\/tasks\/([^/]+)\/logs$/.exec(path);
    if (logs) {
      const entries = (JSON.parse(body.toString()) as { entries: { line: string }[] }).entries;
      lines.set(logs[1]!, [...(lines.get(logs[1]!) ?? []), ...entries.map((e) => e.line)]);
    }
    if (/\/heartbeat$/.test(path) && gate.holdHeartbeats) {
      gate.heldHeartbeats++;
      await releasing;
    }
    const stall = gate.stallBlobs && path.startsWith('/registry/v1/blobs/');
    const upstream = request({ host: '127.0.0.1', port: targetPort, method: req.method, path, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (!stall) return void answer.pipe(res);
      gate.stalled++;
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent < STALL_AFTER_BYTES) res.write(chunk.subarray(0, STALL_AFTER_BYTES - sent));
        sent += chunk.length;
      });
    });
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  };
  const server = createServer((req, res) => void forward(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return gate;
}
