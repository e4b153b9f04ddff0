/**
 * `node --import tsx dev/bench-log-flood.ts`: a log flood through the whole pipeline. One app on the
 * local stack (PostgreSQL) prints LINES numbered lines (~50 bytes each) in 10 s; this reports how many
 * reach task_logs, how long that takes, what the agent counted as dropped, and the agent's RSS
 * before the flood, at its peak (VmHWM) and the difference. AGENT_NODE_OPTIONS=... runs the agent with
 * those node flags (e.g. --max-semi-space-size=1).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from '../sql/connect.js';
import { apiClient, taskPortRange } from '../test/e2e/agent-support.js';
import { startStack } from './stack.js';

const LINES = Number(process.env.LINES ?? 500_000);
const SECONDS = 10;
const SETTLE_MS = 15_000;

const FLOOD_APP = {
  'server.mjs': `
import http from 'node:http';
const pad = 'x'.repeat(32);
http.createServer((req, res) => {
  if (req.url === '/flood') {
    const total = ${LINES}, ticks = ${SECONDS * 100};
    let n = 0, tick = 0;
    const timer = setInterval(() => {
      const until = Math.round((total * ++tick) / ticks);
      let chunk = '';
      while (n < until) chunk += 'flood ' + (++n) + ' ' + pad + '\\n';
      process.stdout.write(chunk);
      if (tick >= ticks) clearInterval(timer);
    }, 10);
  }
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
};

const status = async (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const dir = await mkdtemp(join(tmpdir(), 'zectre-bench-flood-'));
const stack = await startStack({
  dir: join(dir, 'state'),
  db: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/zectre_bench_flood_${process.pid}`, throwaway: true },
  // AGENT_NODE_OPTIONS: e.g. V8 heap flags for the agent alone (NODE_OPTIONS would reach every part).
  agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(), ZECTRE_AGENT_MEMORY_TRACE: join(dir, 'memory.jsonl'), ...(process.env.AGENT_NODE_OPTIONS ? { NODE_OPTIONS: process.env.AGENT_NODE_OPTIONS } : {}) },
});
const pool = createPool(stack.db.options, 2);
try {
  const api = apiClient(stack.apiUrl, stack.adminToken);
  const deployment = await api.deploy('flood', FLOOD_APP, { command: 'node server.mjs', replicas: 1, healthCheck: { path: '/', intervalMs: 2000, timeoutMs: 2000, graceMs: 0 } });
  const task = deployment.tasks[0]!;
  const agentPid = stack.agent.proc.pid!;
  await sleep(3000);
  const rssBefore = await status(agentPid, 'VmRSS');
  const t0 = performance.now();
  await fetch(`http://127.0.0.1:${task.port}/flood`);
  const count = async () => Number((await pool.query(`SELECT count(*) FROM task_logs WHERE task_id = $1 AND line LIKE 'flood %'`, [task.id])).rows[0].count);
  let stored = 0;
  let lastChange = performance.now();
  let doneAt = 0;
  while (performance.now() - lastChange < SETTLE_MS && stored < LINES) {
    await sleep(500);
    const now = await count();
    if (now !== stored) {
      stored = now;
      lastChange = doneAt = performance.now();
    }
  }
  const metrics = await (await fetch(`${/listening on (http:\/\/[\d.]+:\d+)/.exec(stack.agent.output())![1]}/metrics`)).text();
  const dropped = /zectre_agent_log_lines_dropped_total (\d+)/.exec(metrics)?.[1];
  const notices = (await pool.query(`SELECT line FROM task_logs WHERE task_id = $1 AND stream = 'system' AND line LIKE '%dropped%'`, [task.id])).rows.map((r) => r.line as string);
  console.log(`\nlog flood: ${LINES} lines in ${SECONDS} s`);
  console.log(`  stored: ${stored} of ${LINES} (${((stored / LINES) * 100).toFixed(1)}%), the last after ${((doneAt - t0) / 1000).toFixed(1)} s`);
  console.log(`  agent counted dropped: ${dropped}; drop notices stored: ${notices.length}${notices[0] ? ` (e.g. "${notices[0]}")` : ''}`);
  const peak = await status(agentPid, 'VmHWM');
  console.log(`  agent RSS: ${rssBefore.toFixed(1)} MB idle before, peak ${peak.toFixed(1)} MB (VmHWM): +${(peak - rssBefore).toFixed(1)} MB over idle`);
  // Which memory rose (samples every 200 ms): V8's heap, Buffers, or neither (malloc, native).
  const samples = (await readFile(join(dir, 'memory.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  const idle = samples.filter((m) => m.t! < Date.now() - (performance.now() - t0)).at(-1) ?? samples[0]!;
  const mb = (n: number) => (n / 1048576).toFixed(1);
  const rise = (k: string) => `${k} ${mb(idle[k]!)} -> max ${mb(Math.max(...samples.map((m) => m[k]!)))}`;
  console.log(`  agent memoryUsage() over ${samples.length} samples, idle -> max (MB): ${['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'].map(rise).join(', ')}`);
  // Of heapTotal: V8's young generation (grows up to twice its semi-space limit) and its old one (what outlived young GCs).
  console.log(`  of heapTotal: ${['newSpace', 'oldSpace'].map(rise).join(', ')}`);
} finally {
  await pool.end();
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
}
