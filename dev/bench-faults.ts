/**
 * `npm run bench:faults [-- --scenarios kill-1,freeze-2,... --runs N]`: the fault measurements of
 * issue 14 on a local stack (PostgreSQL, default 5 s heartbeats) with two agents, nodes A and B (the
 * stack's own agent is stopped first, so both can be killed and restarted here). Each scenario
 * deploys a fresh app, sends 20 requests/s through the proxy on keep-alive connections, injects its
 * fault into the node running the app's first task ("node A") or into the proxy, and reports the
 * requests sent, failed, answered only after 5 s, the seconds from the fault until requests serve
 * again (the first request after the last failed or slow one) and the longest wait for an answer.
 * A measurement, not a test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROXY_ENV, PROXY_NODE_FLAGS } from '../node-proxy/launch.js';
import { createProxyRole } from '../sql/proxy-role.js';
import { createPool } from '../sql/connect.js';
import { apiClient, taskPortRange } from '../test/e2e/agent-support.js';
import { cleanFor, openLoop, summarize, type Summary } from './bench-faults-load.js';
import { Nodes } from './bench-faults-nodes.js';
import { sleep, startChild, waitFor, type Child } from './processes.js';
import { ROOT } from './root.js';
import { startStack } from './stack.js';

const APP = {
  'server.mjs': `
import http from 'node:http';
http.createServer((req, res) => {
  if (req.url === '/slow') setTimeout(() => res.end('slow'), 3000);
  else res.end('ok ' + process.pid);
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
};
/** Requests served cleanly for this long after a fault end a scenario's observation. */
const CLEAN_MS = 10_000;
const MAX_OBSERVE_MS = 150_000;

interface Scenario {
  name: string;
  replicas: number;
  /** Observe at least this long after the fault (a fault that lasts, or one whose effect comes later). */
  minObserveMs: number;
  /** Injects the fault; returns what undoes it once the observation is over. */
  inject(ctx: Ctx): Promise<() => Promise<void>>;
}
interface Ctx {
  nodes: Nodes;
  /** Name of the node running the app's first task. */
  target: string;
  send(path: string): void;
}

const { values: args } = parseArgs({ options: { scenarios: { type: 'string' }, runs: { type: 'string', default: '1' } } });

const dir = await mkdtemp(join(tmpdir(), 'zectre-bench-faults-'));
const stack = await startStack({
  dir: join(dir, 'state'),
  db: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/zectre_bench_faults_${process.pid}`, throwaway: true },
  heartbeatIntervalMs: 5_000, // the default, as the issue measured
  agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange() },
});
let proxy: Child = stack.proxy;
const pool = createPool(stack.db.options, 2);
pool.on('error', () => undefined);
const api = apiClient(stack.apiUrl, stack.adminToken);
const nodes = new Nodes(dir, stack.apiUrl, api, pool);

/** A new proxy on the same port and state as the stack's, as a supervisor would restart it. */
async function restartProxy(): Promise<void> {
  const { databaseUrl } = await createProxyRole(stack.db.options, 'local', null);
  proxy = startChild('proxy', process.execPath, [...PROXY_NODE_FLAGS, '--import', 'tsx', 'node-proxy/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...PROXY_ENV,
      DATABASE_URL: databaseUrl,
      ZECTRE_DB_WS_PROXY: stack.db.options.wsProxy,
      ZECTRE_APPS_DOMAIN: stack.appsDomain,
      ZECTRE_PROXY_PORT: new URL(stack.proxyUrl).port,
      ZECTRE_PROXY_STATE_DIR: join(dir, 'state', 'proxy'),
      ZECTRE_PROXY_AGENT_URL: 'http://127.0.0.1:9', // no agent of its own here
    },
  });
  await waitFor('the restarted proxy', async () => /proxy ready/.test(proxy.output()), 30_000, proxy);
}

const nodeLoss = (replicas: number): Scenario => ({
  name: `kill-${replicas}`,
  replicas,
  minObserveMs: 20_000,
  async inject({ nodes, target }) {
    nodes.signal(target, 'SIGKILL', { tasks: true });
    return () => nodes.restart(target);
  },
});
const nodeFreeze = (replicas: number): Scenario => ({
  name: `freeze-${replicas}`,
  replicas,
  minObserveMs: 20_000,
  async inject({ nodes, target }) {
    const groups = nodes.signal(target, 'SIGSTOP', { tasks: true });
    return async () => {
      nodes.signal(target, 'SIGCONT', { tasks: true, groups });
      await nodes.ready(target);
    };
  },
});
const SCENARIOS: Scenario[] = [
  nodeLoss(1),
  nodeLoss(2),
  nodeFreeze(1),
  nodeFreeze(2),
  {
    name: 'agent-restart',
    replicas: 1,
    minObserveMs: 10_000,
    async inject({ nodes, target }) {
      nodes.signal(target, 'SIGKILL', { tasks: false });
      await nodes.restart(target);
      return async () => undefined;
    },
  },
  {
    name: 'frozen-agent',
    replicas: 1,
    minObserveMs: 40_000,
    async inject({ nodes, target }) {
      nodes.signal(target, 'SIGSTOP', { tasks: false });
      await sleep(20_000);
      nodes.signal(target, 'SIGCONT', { tasks: false });
      return () => nodes.ready(target);
    },
  },
  {
    name: 'proxy-term',
    replicas: 1,
    minObserveMs: 10_000,
    async inject({ send }) {
      for (let i = 0; i < 3; i++) send('/slow'); // in flight when the proxy is told to stop
      await sleep(200);
      const old = proxy;
      const exited = new Promise((resolve) => old.proc.once('exit', resolve));
      old.proc.kill('SIGTERM');
      await exited;
      await restartProxy();
      return async () => undefined;
    },
  },
];

async function runScenario(s: Scenario, run: number): Promise<Summary> {
  const slug = `${s.name}-${run}`;
  const deployment = await api.deploy(slug, APP, { command: 'node server.mjs', replicas: s.replicas, healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 } });
  const target = await nodes.nameOf(deployment.tasks[0]!.nodeId);
  const host = `${slug}.${stack.appsDomain}`;
  const load = openLoop(stack.proxyUrl, host);
  const start = Date.now();
  await waitFor('3 s of requests served', async () => cleanFor(load.outcomes, start, 3_000), 60_000);
  const placement = (await Promise.all(deployment.tasks.map((t) => nodes.nameOf(t.nodeId)))).join(',');
  const faultAt = Date.now();
  const before = load.outcomes.length;
  const undo = await s.inject({ nodes, target, send: load.send });
  await waitFor('requests served cleanly again', async () => Date.now() - faultAt >= s.minObserveMs && cleanFor(load.outcomes, faultAt, CLEAN_MS), MAX_OBSERVE_MS).catch(() => undefined);
  load.stop();
  await load.settled();
  await undo();
  const summary = summarize(load.outcomes.slice(before), faultAt);
  console.log(`${slug}: tasks on ${placement}, fault on ${s.name === 'proxy-term' ? 'the proxy' : target}: ${JSON.stringify(summary)}`);
  await api.call('POST', `/api/v1/projects/${slug}/scale`, { replicas: 0 }).catch(() => undefined);
  return summary;
}

const wanted = args.scenarios?.split(',') ?? SCENARIOS.map((s) => s.name);
const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
const rows: string[] = [];
try {
  await nodes.replaceStackAgent(stack.agent);
  for (const s of SCENARIOS.filter((s) => wanted.includes(s.name))) {
    for (let run = 1; run <= Number(args.runs); run++) {
      const r = await runScenario(s, run);
      rows.push(`${s.name.padEnd(14)} ${String(run).padStart(3)} ${String(r.sent).padStart(6)} ${String(r.failed).padStart(7)} ${String(r.slow).padStart(5)} ${r.servingAgainS.toFixed(1).padStart(8)} ${r.longestS.toFixed(1).padStart(9)}   ${r.kinds.join('; ')}`);
    }
  }
} finally {
  console.log(`\nfaults (20 requests/s through the proxy, heartbeat 5 s; slow = 200 after over 5 s)`);
  console.log(`scenario       run   sent  failed  slow  again s  longest s   failures`);
  for (const row of rows) console.log(row);
  await nodes.stop();
  if (proxy !== stack.proxy) await proxy.stop();
  await pool.end();
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
}
