/** Helpers shared by the agent's tests: temp dirs, artifacts, a blob server, polling. */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { ArtifactCache } from './artifact-cache.js';
import type { TaskDeps } from './task.js';
import { TaskUsers } from './task-users.js';
import { DEFAULT_UNPACK_LIMITS } from './unpack.js';
import { Workspace } from './workspace.js';

/** A temporary directory others may pass through (0711), so task uids can reach a work root inside it. */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `zectre-${prefix}-`));
  await chmod(path, 0o711);
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * What the agent sets up before running tasks, under `base`: the state directory (0700), the work
 * root (0711), project uids (when root) and the artifact cache (fetching from `apiUrl`).
 */
export async function agentDirs(base: string, apiUrl: string): Promise<Pick<TaskDeps, 'stateDir' | 'workspace' | 'users' | 'artifacts'>> {
  const stateDir = join(base, 'state');
  await mkdir(base, { recursive: true, mode: 0o711 });
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const users = TaskUsers.open(stateDir, [200_000, 299_999]);
  return {
    stateDir,
    users,
    workspace: await Workspace.open(join(base, 'work'), DEFAULT_UNPACK_LIMITS, { stateDir, isolating: users.isolating }),
    artifacts: new ArtifactCache(join(stateDir, 'artifacts'), apiUrl, () => 'node-secret'),
  };
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A gzip tar of the given files (path -> content), built with the tar package from a scratch dir. */
export async function makeArtifact(files: Record<string, string>): Promise<Buffer> {
  const src = await tempDir('src');
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(src.path, path)), { recursive: true });
      await writeFile(join(src.path, path), content);
    }
    const chunks: Buffer[] = [];
    const stream = tar.c({ gzip: true, cwd: src.path, portable: true }, Object.keys(files));
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await src.remove();
  }
}

/** A hand-made gzip tar, so tests can build archives the tar package would refuse to create. */
export function craftArchive(
  entries: { path: string; type: 'File' | 'Directory' | 'SymbolicLink' | 'Link'; linkpath?: string; body?: string | Buffer; mode?: number }[],
): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const header = Buffer.alloc(512);
    const mode = entry.mode ?? (entry.type === 'Directory' ? 0o755 : 0o644);
    new tar.Header({ path: entry.path, type: entry.type, linkpath: entry.linkpath, size: body.length, mode, mtime: new Date(0) }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A plain HTTP server answering GET <path> with the registered blob; counts requests. */
export async function blobServer(): Promise<{ url(path: string): string; put(path: string, data: Buffer): void; requests: string[]; close(): Promise<void> }> {
  const blobs = new Map<string, Buffer>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.url} ${req.headers.authorization ?? ''}`);
    const blob = blobs.get(req.url ?? '');
    if (!blob) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': 'application/gzip' }).end(blob);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    put: (path, data) => void blobs.set(path, data),
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls until `check` returns a truthy value, or fails with `what` after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, undefined | null | false | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
