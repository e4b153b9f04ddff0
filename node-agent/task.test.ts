import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { PORT_IN_USE, TaskSpec, type LogStream } from '../protocol/index.js';
import { ForeignPorts } from './foreign-ports.js';
import type { LogSpool } from './log-spool.js';
import { groupMembers } from './process-group.js';
import { Task, type TaskDeps } from './task.js';
import { agentDirs, blobServer, freePort, makeArtifact, sha256, tempDir, waitFor } from './test-support.js';

const SERVER = `
import http from 'node:http';
import { readFileSync } from 'node:fs';
const groups = /^Groups:(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1].trim();
http.createServer((req, res) => res.end(JSON.stringify({
  greeting: process.env.GREETING, leak: process.env.ZECTRE_TEST_LEAK ?? null,
  uid: process.getuid(), gid: process.getgid(), groups, home: process.env.HOME, cwd: process.cwd(),
}))).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`;
/** Ignores SIGTERM, so only the group SIGKILL after killTimeoutMs can end it. */
const STUBBORN_CHILD = `
import { writeFileSync } from 'node:fs';
process.on('SIGTERM', () => console.log('child ignoring SIGTERM'));
writeFileSync('child.pid', String(process.pid));
setInterval(() => {}, 1000);
`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let blobs: Awaited<ReturnType<typeof blobServer>>;
let artifactDigest: string;
let dirs: Awaited<ReturnType<typeof agentDirs>>;
const started: Task[] = [];
const spools: LogSpool[] = [];

before(async () => {
  dir = await tempDir('task');
  blobs = await blobServer();
  const artifact = await makeArtifact({ 'server.mjs': SERVER, 'child.mjs': STUBBORN_CHILD });
  artifactDigest = sha256(artifact);
  blobs.put('/app', artifact);
  dirs = await agentDirs(dir.path, blobs.url(''));
  process.env.ZECTRE_TEST_LEAK = 'agent-only';
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});
after(async () => {
  delete process.env.ZECTRE_TEST_LEAK;
  await blobs.close();
  await dir.remove();
});

async function startTask(
  id: string,
  command: string,
  overrides: Partial<{ digest: string; killTimeoutMs: number; port: number; url: string; project: string; projectId: string; foreignPorts: ForeignPorts }> = {},
) {
  const port = overrides.port ?? (await freePort());
  const spec = TaskSpec.parse({
    id,
    deploymentId: 'd1',
    project: overrides.project ?? 'demo',
    ...(overrides.projectId ? { projectId: overrides.projectId } : {}),
    artifact: { digest: overrides.digest ?? artifactDigest, url: overrides.url ?? blobs.url('/app') },
    command,
    env: { GREETING: 'hello' },
    port,
    healthCheck: { path: '/', intervalMs: 500, timeoutMs: 500 },
    resources: {},
    killTimeoutMs: overrides.killTimeoutMs ?? 500,
  });
  const deps: TaskDeps = {
    ...dirs,
    addSpool: (spool) => spools.push(spool),
    onLinesDropped: () => undefined,
    onChange: () => undefined,
    ...(overrides.foreignPorts ? { foreignPorts: overrides.foreignPorts } : {}),
  };
  const task = new Task(spec, deps);
  started.push(task);
  task.start();
  return { task, port };
}

/** The task's spooled lines of one stream (reads the spool as the log shipper would). */
function linesOf(taskId: string, stream: LogStream): string[] {
  const spool = spools.find((s) => s.taskId === taskId)!;
  spool.poll();
  return spool.pending(100_000).filter((e) => e.stream === stream).map((e) => e.line);
}

/** Alive and not a zombie (a zombie runs nothing and holds no port). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('a task runs a Node HTTP server and becomes healthy, with only the spec env plus PATH/LANG, HOME = its directory', { timeout: 15_000 }, async () => {
  const { task, port } = await startTask('thealthy', 'node server.mjs');
  const observed = await waitFor('healthy', () => (task.snapshot().state === 'healthy' ? task.snapshot() : undefined));
  assert.equal(typeof observed.pid, 'number');
  assert.equal(observed.restarts, 0);
  const body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as Record<string, unknown>;
  assert.deepEqual({ greeting: body.greeting, leak: body.leak, home: body.home, cwd: body.cwd }, { greeting: 'hello', leak: null, home: task.appDir, cwd: task.appDir });
  await waitFor('stdout line', () => linesOf('thealthy', 'stdout').includes(`listening on ${port}`));
  assert.ok(linesOf('thealthy', 'system').includes(`started pid ${observed.pid}`));
});

test('stop kills the whole process group, including a child that ignores SIGTERM', { timeout: 15_000 }, async () => {
  const { task } = await startTask('tgroup', 'node child.mjs & node server.mjs');
  await waitFor('healthy', () => task.snapshot().state === 'healthy');
  const pidFile = join(task.appDir, 'child.pid');
  const childPid = Number(await waitFor('child pid file', async () => existsSync(pidFile) && readFile(pidFile, 'utf8')));
  const leader = task.snapshot().pid!;
  assert.ok(running(childPid), 'child runs before stop');
  const t0 = Date.now();
  await task.stop();
  assert.ok(Date.now() - t0 >= 450, 'waited killTimeoutMs before SIGKILL');
  assert.equal(running(childPid), false, `child ${childPid} survived stop`);
  assert.deepEqual(groupMembers(leader), []);
  await task.removeFiles();
  assert.equal(existsSync(task.appDir), false, 'app files removed');
});

test('a crashed task is restarted with backoff and its restart count rises', { timeout: 15_000 }, async () => {
  const { task } = await startTask('tcrash', `node -e "console.error('boom'); process.exit(3)"`);
  await waitFor('exit after two restarts', () => task.snapshot().restarts >= 2 && task.snapshot().state === 'exited', 10_000);
  const observed = task.snapshot();
  assert.equal(observed.exitCode, 3);
  assert.ok(linesOf('tcrash', 'system').includes('exited with code 3'));
  assert.ok(linesOf('tcrash', 'stderr').filter((l) => l === 'boom').length >= 2);
});

test('an artifact whose digest does not match fails the task with a clear message', { timeout: 10_000 }, async () => {
  const wrong = sha256(Buffer.from('another artifact'));
  const { task } = await startTask('tdigest', 'node server.mjs', { digest: wrong });
  const observed = await waitFor('failed', () => (task.snapshot().state === 'failed' ? task.snapshot() : undefined));
  assert.match(observed.message ?? '', new RegExp(`artifact ${wrong.slice(0, 19)}… digest mismatch: got ${artifactDigest.slice(0, 19)}…`));
  assert.equal(existsSync(task.appDir), false, 'nothing unpacked');
});

test('an artifact URL on another origin than the API fails the task for good, naming the reason', { timeout: 10_000 }, async () => {
  const uncached = sha256(Buffer.from('not downloaded yet'));
  const { task } = await startTask('tforeign', 'node server.mjs', { url: 'http://127.0.0.2:9/blob', digest: uncached });
  const observed = await waitFor('failed', () => (task.snapshot().state === 'failed' ? task.snapshot() : undefined));
  assert.match(observed.message ?? '', /URL http:\/\/127\.0\.0\.2:9\/blob is not on the control plane .* refusing to send the node credential there/);
});

test('as root, each project runs as its own unprivileged uid with no supplementary groups, in a 0700 directory it owns', { timeout: 15_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('switching uids needs root');
  const a = await startTask('tuida', 'node server.mjs', { project: 'alpha' });
  const b = await startTask('tuidb', 'node server.mjs', { project: 'beta' });
  const who = async ({ task, port }: typeof a) => {
    await waitFor('healthy', () => task.snapshot().state === 'healthy');
    return (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { uid: number; gid: number; groups: string };
  };
  const [ua, ub] = [await who(a), await who(b)];
  for (const [u, task] of [[ua, a.task], [ub, b.task]] as const) {
    assert.ok(u.uid >= 200_000 && u.uid <= 299_999, `uid ${u.uid} from the range`);
    assert.equal(u.gid, u.uid);
    assert.equal(u.groups, '', 'no supplementary groups (root\'s dropped)');
    const s = statSync(task.appDir);
    assert.deepEqual([s.uid, s.mode & 0o777], [u.uid, 0o700], 'its directory is its own and private');
  }
  assert.notEqual(ua.uid, ub.uid, 'two projects, two uids');
  // A project deleted and created again under the same name is another tenant: its id decides the uid.
  const first = await startTask('tuidc', 'node server.mjs', { project: 'gamma', projectId: 'p_gamma1' });
  const again = await startTask('tuidd', 'node server.mjs', { project: 'gamma', projectId: 'p_gamma2' });
  assert.notEqual((await who(first)).uid, (await who(again)).uid, 'same name, another project id: another uid');
  const raw = statSync(join(a.task.dir, 'logs', 'stdout.raw'));
  assert.deepEqual([raw.uid, raw.mode & 0o777], [0, 0o600], 'raw logs belong to the agent');
});

test('a task whose port another process holds waits briefly, says why, then fails with port_in_use; it never reports that process healthy', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const squatter = createServer((_req, res) => res.end('not the task')).listen(port, '127.0.0.1');
  await once(squatter, 'listening');
  const foreignPorts = new ForeignPorts();
  const { task } = await startTask('tsquat', 'node server.mjs', { port, foreignPorts });
  const waiting = await waitFor('pending on the port', () => (/in use by another process/.test(task.snapshot().message ?? '') ? task.snapshot() : undefined));
  assert.equal(waiting.state, 'pending');
  assert.equal(waiting.pid, undefined);
  const failed = await waitFor('failed on the port', () => (task.snapshot().state === 'failed' ? task.snapshot() : undefined), 15_000);
  assert.deepEqual([failed.code, failed.message, failed.pid], [PORT_IN_USE, `port ${port} is in use by another process on this node`, undefined]);
  assert.deepEqual(foreignPorts.list(), [port], 'the port is reported as held by another process');
  await new Promise((resolve) => squatter.close(resolve));
});

test('a task whose port is freed during the short wait starts on it', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const squatter = createServer((_req, res) => res.end('not the task')).listen(port, '127.0.0.1');
  await once(squatter, 'listening');
  const { task } = await startTask('tfreed', 'node server.mjs', { port });
  await waitFor('pending on the port', () => /in use by another process/.test(task.snapshot().message ?? '') || undefined);
  await new Promise((resolve) => squatter.close(resolve));
  await waitFor('healthy once the port is free', () => task.snapshot().state === 'healthy', 15_000);
  assert.equal(task.snapshot().code, undefined);
});

