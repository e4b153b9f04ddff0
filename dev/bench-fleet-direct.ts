/**
 * The Worker's own workerd socket, for the fleet bench to send its requests to.
 *
 * `wrangler dev` puts a proxy in front of the Worker: ProxyWorker, one Durable Object in a workerd
 * of its own (it holds requests while the Worker reloads). Every request passes through that one
 * object, and at fleet scale it, not the Worker, was the bottleneck: at 300 nodes it stopped
 * accepting connections (3,000 waiting in its listen backlog, 2 GB resident) while the Worker's
 * own socket answered in milliseconds, and a POST whose forwarding failed came back as 503 "Your
 * worker restarted mid-request" though nothing restarted (wrangler 4.86 reads any forwarding error
 * on a path other than / as a reload). A deployed Worker has no such proxy, so the bench skips it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { descendants } from './bench-fleet-cpu.js';

/**
 * The URL of the socket, other than the proxy's, on which a workerd under wrangler answers the
 * Worker's /healthz; null if none does (a wrangler whose processes look different).
 */
export async function workerSocketUrl(wranglerPid: number, proxyUrl: string): Promise<string | null> {
  const proxyPort = Number(new URL(proxyUrl).port);
  const workerd = descendants(wranglerPid).filter((pid) => read(`/proc/${pid}/comm`)?.trim() === 'workerd');
  const ports = listeningPorts(workerd).filter((p) => p !== proxyPort);
  for (const port of ports) {
    const url = `http://127.0.0.1:${port}`;
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
    if (!res) continue;
    const body = (await res.json().catch(() => null)) as { ok?: unknown } | null;
    if (res.ok && body?.ok === true) return url;
  }
  return null;
}

/** TCP ports on 127.0.0.1 these processes listen on: their socket inodes matched against /proc/net/tcp. */
function listeningPorts(pids: number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited
    }
    for (const fd of fds) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })();
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode) inodes.add(inode);
    }
  }
  const ports: number[] = [];
  // Columns: sl local_address rem_address st … inode (10th); LISTEN is state 0A; 0100007F is 127.0.0.1.
  for (const line of (read('/proc/net/tcp') ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [addr, port] = (f[1] ?? '').split(':');
    if (f[3] === '0A' && addr === '0100007F' && inodes.has(f[9] ?? '')) ports.push(parseInt(port!, 16));
  }
  return ports;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
