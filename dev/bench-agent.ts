/**
 * `npm run bench:agent`: the agent's idle RSS, and the time from a desired state with 50 instances
 * of examples/hello to each of them healthy (p50, p95), each next to a peer measured in the same run:
 * - idle RSS of the bundled agent (as installed: plain node, registered with a local stack, 5 s idle)
 *   vs an idle bare `node` process;
 * - desired state -> healthy through the agent's TaskSet (artifact download, unpack, spawn, health
 *   probes) vs spawning the same 50 servers directly and polling until they answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskSpec } from '../protocol/index.js';
import { TaskSet } from '../node-agent/task-set.js';
import { agentDirs, blobServer, freePort, sha256 } from '../node-agent/test-support.js';
import { tarball } from '../test/e2e/agent-support.js';
import { buildAgent } from './build-agent.js';
import { ASSETS_DIR } from './build.js';
import { ROOT } from './root.js';
import { localDatabaseKind } from './database-kind.js';
import { startStack } from './stack.js';

const INSTANCES = Number(process.env.INSTANCES ?? 50);
const dir = await mkdtemp(join(tmpdir(), 'zectre-bench-agent-'));
await chmod(dir, 0o711); // task uids (the agent runs tasks as one when root) pass through to the work root
const children: ChildProcess[] = [];

const rssMb = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${Math.round(x)} ms`;

async function idleRss(): Promise<{ agent: number; bare: number }> {
  const usePostgres = (await localDatabaseKind()) === 'postgres';
  const stack = await startStack({
    dir: join(dir, 'state'),
    db: usePostgres ? { kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/zectre_bench_agent_${process.pid}`, throwaway: true } : { kind: 'pglite', dataDir: join(dir, 'pglite') },
  });
  try {
    await buildAgent(ASSETS_DIR);
    const { joinToken } = JSON.parse(await readFile(join(dir, 'state', 'credentials.json'), 'utf8')) as { joinToken: string };
    const agent = spawn(process.execPath, [join(ASSETS_DIR, 'install/zectre-agent.mjs')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { PATH: process.env.PATH, ZECTRE_API_URL: stack.apiUrl, ZECTRE_JOIN_TOKEN: joinToken, ZECTRE_AGENT_STATE_DIR: join(dir, 'idle-agent'), ZECTRE_AGENT_NAME: 'bench-idle', ZECTRE_AGENT_PORT: '0' },
    });
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(agent, bare);
    await new Promise<void>((resolve) => agent.stdout!.on('data', (d: Buffer) => /agent ready/.test(d.toString()) && resolve()));
    await sleep(5_000); // a few heartbeats and log-shipper ticks
    return { agent: await rssMb(agent.pid!), bare: await rssMb(bare.pid!) };
  } finally {
    for (const c of children.splice(0)) c.kill('SIGTERM');
    await stack.stop();
  }
}

async function toHealthy(): Promise<{ agent: number[]; direct: number[] }> {
  const hello = { 'server.js': await readFile(join(ROOT, 'examples/hello/server.js'), 'utf8'), 'package.json': await readFile(join(ROOT, 'examples/hello/package.json'), 'utf8') };
  const artifact = await tarball(hello);
  const blobs = await blobServer();
  blobs.put('/hello', artifact);
  const specs: TaskSpec[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    specs.push(TaskSpec.parse({
      id: `bench${i}`, deploymentId: 'd1', project: 'hello', artifact: { digest: sha256(artifact), url: blobs.url('/hello') },
      command: 'node server.js', env: {}, port: await freePort(), healthCheck: { path: '/' }, resources: {}, killTimeoutMs: 5_000,
    }));
  }
  const healthyAt = new Map<string, number>();
  const agentDir = join(dir, 'agent');
  const set: TaskSet = new TaskSet(
    {
      ...(await agentDirs(agentDir, blobs.url(''))),
      addSpool: () => undefined,
      onLinesDropped: () => undefined,
      onChange: () => {
        for (const t of set.observed()) if (t.state === 'healthy' && !healthyAt.has(t.id)) healthyAt.set(t.id, performance.now());
      },
    },
    () => undefined,
    () => undefined,
  );
  const t0 = performance.now();
  set.apply({ nodeId: 'bench', generation: 1, tasks: specs });
  for (let i = 0; i < 600 && healthyAt.size < INSTANCES; i++) await sleep(50);
  const agent = [...healthyAt.values()].map((t) => t - t0);
  await set.stopAll();

  // Peer: the same servers, spawned directly from the unpacked app, polled every 20 ms until they answer.
  const appDir = join(agentDir, 'work', 'bench0');
  await set.stopAll();
  const d0 = performance.now();
  const direct = await Promise.all(specs.map(async (s) => {
    const child = spawn(process.execPath, ['server.js'], { cwd: appDir, env: { PATH: process.env.PATH, PORT: String(s.port) }, stdio: 'ignore' });
    children.push(child);
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${s.port}/`).then((r) => r.ok, () => false);
      if (ok) return performance.now() - d0;
      await sleep(20);
    }
  }));
  for (const c of children.splice(0)) c.kill('SIGTERM');
  await blobs.close();
  if (agent.length < INSTANCES) throw new Error(`only ${agent.length} of ${INSTANCES} tasks became healthy within 30 s`);
  return { agent, direct };
}

try {
  const healthy = await toHealthy();
  const rss = await idleRss();
  console.log(`\nagent idle RSS: ${rss.agent.toFixed(1)} MB (bundled agent, registered, idle 5 s); bare node process: ${rss.bare.toFixed(1)} MB; ratio ${(rss.agent / rss.bare).toFixed(2)}x`);
  console.log(`desired state -> healthy, ${INSTANCES} x examples/hello on one agent: p50 ${ms(pct(healthy.agent, 50))}, p95 ${ms(pct(healthy.agent, 95))}, all ${ms(Math.max(...healthy.agent))}`);
  console.log(`  peer (spawn directly, poll every 20 ms): p50 ${ms(pct(healthy.direct, 50))}, p95 ${ms(pct(healthy.direct, 95))}; ratio p95 ${(pct(healthy.agent, 95) / pct(healthy.direct, 95)).toFixed(2)}x`);
} finally {
  for (const c of children) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
}
