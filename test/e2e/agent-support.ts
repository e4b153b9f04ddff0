/** Shared by the agent end-to-end tests: a small API client and an app artifact built from source strings. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import type { CreateDeployment, Deployment } from '../../protocol/index.js';
import { waitFor } from '../../dev/processes.js';

/** An app for agent tests: GET / answers its pid; GET /write?n=N prints N numbered lines; prints a secret on start. */
export const WRITER_APP = {
  'server.mjs': `
import http from 'node:http';
console.log('token is ' + process.env.API_SECRET);
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/write') {
    const n = Number(url.searchParams.get('n'));
    for (let i = 1; i <= n; i++) process.stdout.write('line ' + i + '\\n');
  }
  res.end(JSON.stringify({ pid: process.pid }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
};

/**
 * A random slice of task ports, so stacks of other suites on this machine don't collide with ours.
 * Always below 32768, where Linux's ephemeral range starts: a port above it may be held by any
 * outgoing connection (a database socket, a keep-alive client) for the whole run.
 */
export function taskPortRange(size = 200): string {
  const low = 10_000 + size * Math.floor(Math.random() * Math.floor(22_700 / size));
  return `${low}-${low + size - 1}`;
}

export async function tarball(files: Record<string, string>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'zectre-app-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c({ gzip: true, cwd: dir, portable: true }, Object.keys(files))) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function apiClient(apiUrl: string, token: string) {
  const call = async <T>(method: string, path: string, body?: unknown, raw?: Buffer): Promise<T> => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: raw ? new Uint8Array(raw) : body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    call,
    /** Creates the project, uploads the app and deploys it; resolves once the deployment is live. */
    async deploy(project: string, files: Record<string, string>, spec: Omit<CreateDeployment, 'artifact'>): Promise<Deployment> {
      await call('POST', '/api/v1/projects', { name: project }).catch(() => undefined); // may exist already
      const { digest } = await call<{ digest: string }>('PUT', `/api/v1/projects/${project}/artifacts`, undefined, await tarball(files));
      const created = await call<Deployment>('POST', `/api/v1/projects/${project}/deployments`, { ...spec, artifact: digest });
      return waitFor(
        `deployment ${created.id} to go live`,
        async () => {
          const d = await call<Deployment>('GET', `/api/v1/deployments/${created.id}`);
          if (d.status === 'failed') throw new Error(`deployment failed: ${d.statusReason}`);
          return d.status === 'live' && d;
        },
        60_000,
      );
    },
  };
}

/** Process groups whose processes run under `root` (an agent's work root, or an install prefix holding it): one per running task copy. */
export function taskGroupsUnder(root: string): Set<number> {
  const groups = new Set<number>();
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (!readlinkSync(`/proc/${pid}/cwd`).startsWith(root)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      groups.add(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]));
    } catch {
      // exited while we looked
    }
  }
  return groups;
}

