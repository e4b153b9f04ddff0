/** Outages that leave the worker hosts up: one cut off from the control plane only; PostgreSQL stopped. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { sleep, waitFor } from '../../../dev/processes.js';
import { logCount, type WorkerHost } from './install-host.js';
import { cutBetween } from './netns.js';
import { liveDeployment } from './partition.js';
import type { Suite } from './suite.js';
import { APP, APP_SPEC, PROJECT, viaProxy } from './traffic.js';

const LINES = 200;
/** node-proxy/route-sync.ts's message when it serves its last routes. */
const DB_UNREACHABLE = 'route database unreachable, serving last-known routes';
const DB_REACHABLE = 'route database reachable again';
const OUTAGE_MS = 60_000;

/** Whether a spool segment in the task's log directory holds `text` (written, not shipped yet). */
function spooled(logDir: string, text: string): boolean {
  if (!existsSync(logDir)) return false;
  return readdirSync(logDir).some((f) => f.startsWith('spool-') && readFileSync(join(logDir, f), 'utf8').includes(text));
}

/** The proxy's last word on its route database is that it reads it (again). */
async function readsRoutes(w: WorkerHost): Promise<boolean> {
  const log = await readFile(join(w.prefix, 'proxy.log'), 'utf8');
  return log.lastIndexOf(DB_REACHABLE) >= log.lastIndexOf(DB_UNREACHABLE);
}

export async function controlPlanePartition(s: Suite, t: TestContext): Promise<void> {
  // A new deployment spreads its copies over both hosts again (the previous one is all on w2 now).
  const d = await s.api.deploy(PROJECT, APP, APP_SPEC);
  const mine = d.tasks.find((task) => task.desiredState === 'running' && task.nodeId === s.w1.nodeId);
  assert.ok(mine, `no copy on ${s.w1.name}: ${JSON.stringify(d.tasks)}`);
  await waitFor(`${s.w1.name}'s proxy to serve its own copy`, async () => (await viaProxy(s.w1.proxyUrl)).task === mine.id, 60_000);
  const tag = `spooled-${randomBytes(4).toString('hex')}`;
  const logLines = async () => (await s.sql(`SELECT count(DISTINCT line)::int AS n FROM task_logs WHERE task_id = $1 AND line LIKE $2`, [mine.id, `${tag} %`]))[0].n as number;
  const failedHeartbeats = await logCount(s.w1, 'agent', 'heartbeat failed');
  const unreachable = await logCount(s.w1, 'proxy', DB_UNREACHABLE);
  const cutAt = new Date();
  cutBetween(s.cpHost, s.w1, true);
  let cut = true;
  try {
    // The agent felt the cut (its heartbeats fail); the proxy finds out when a query times out, but serves meanwhile anyway.
    await waitFor('the agent to miss a heartbeat', async () => (await logCount(s.w1, 'agent', 'heartbeat failed')) > failedHeartbeats, 30_000);
    for (let i = 0; i < 20; i++) {
      const a = await viaProxy(s.w1.proxyUrl);
      assert.equal(a.status, 200, `${s.w1.name}'s proxy, cut off from the control plane: ${a.body}`);
    }
    // Straight to the copy on the cut-off host (the test reaches every host).
    const write = await fetch(`http://${s.w1.address}:${mine.port}/write?n=${LINES}&tag=${tag}`);
    assert.equal(write.status, 200);
    await waitFor('the lines to be spooled on the cut-off host', async () => spooled(join(s.w1.prefix, 'state/tasks', mine.id, 'logs'), `${tag} ${LINES}`), 30_000);
    assert.equal(await logLines(), 0, 'lines reached the control plane through the cut');
    cutBetween(s.cpHost, s.w1, false);
    cut = false;
    const healedAt = Date.now();
    await waitFor(`all ${LINES} lines to arrive`, async () => (await logLines()) === LINES, 120_000);
    const linesMs = Date.now() - healedAt;
    // Whether the proxy noticed depends on the cut's length (a poll times out after 10 s; TCP retransmits
    // what a shorter cut dropped): either way it reads its routes once healed, before the next scenario counts.
    await waitFor(`${s.w1.name}'s proxy to read its routes again`, () => readsRoutes(s.w1), 60_000);
    const noticed = (await logCount(s.w1, 'proxy', DB_UNREACHABLE)) > unreachable;
    const lost = await s.sql(`SELECT 1 FROM events WHERE kind = 'node.lost' AND data->>'nodeId' = $1 AND at >= $2`, [s.w1.nodeId, cutAt]);
    t.diagnostic(`cut off from the control plane for ${healedAt - cutAt.getTime()} ms (node declared lost meanwhile: ${lost.length > 0}; proxy noticed: ${noticed}); ` +
      `heal -> all ${LINES} spooled lines stored: ${linesMs} ms; heal -> proxy reads routes again: ${Date.now() - healedAt} ms`);
  } finally {
    if (cut) cutBetween(s.cpHost, s.w1, false);
  }
}

export async function databaseOutage(s: Suite, t: TestContext): Promise<void> {
  const d = await liveDeployment(s);
  const current = new Set(d.tasks.filter((task) => task.desiredState === 'running').map((task) => task.id));
  const auth = { authorization: `Bearer ${s.cp.adminToken}` };
  const problems: string[] = [];
  const codes = new Set<string>();
  let served = 0;
  let slowestApiMs = 0;
  const unreachable = await Promise.all([s.w1, s.w2].map((w) => logCount(w, 'proxy', DB_UNREACHABLE)));
  const since = new Date();
  s.cp.pg.stop();
  const stoppedAt = Date.now();
  try {
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      for (const w of [s.w1, s.w2]) {
        const a = await viaProxy(w.proxyUrl);
        if (a.status === 200 && current.has(a.task!)) served++;
        else problems.push(`${w.name}'s proxy: ${a.status} ${a.body.slice(0, 200)}`);
      }
      for (const path of ['/api/v1/projects', `/api/v1/deployments/${d.id}`, '/api/v1/nodes', '/healthz']) {
        const started = Date.now();
        const res = await fetch(`${s.cp.apiUrl}${path}`, { headers: auth });
        slowestApiMs = Math.max(slowestApiMs, Date.now() - started);
        const body = await res.text();
        const json = (() => {
          try {
            return JSON.parse(body) as { error?: { code?: string; message?: string } };
          } catch {
            return undefined;
          }
        })();
        if (res.status !== 503 || !json || /\bat .+:\d+:\d+/.test(body)) problems.push(`Worker ${path}: ${res.status} ${body.slice(0, 300)}`);
        if (json?.error?.code) codes.add(json.error.code);
      }
      await sleep(1_000); // a sample a second over the outage
    }
  } finally {
    s.cp.pg.start();
  }
  const restartedAt = Date.now();
  await waitFor('the API to answer again', async () => (await fetch(`${s.cp.apiUrl}/api/v1/projects`, { headers: auth })).status === 200, 120_000);
  const apiBackMs = Date.now() - restartedAt;
  await waitFor('both proxies to read their routes again', async () => (await readsRoutes(s.w1)) && (await readsRoutes(s.w2)), 60_000);
  const proxiesBackMs = Date.now() - restartedAt;
  t.diagnostic(`PostgreSQL down ${restartedAt - stoppedAt} ms: ${served} requests served by the proxies from their last routes; Worker error codes: ${[...codes].join(', ')}; slowest Worker answer ${slowestApiMs} ms`);
  assert.deepEqual(problems, []);
  const noticed = await Promise.all([s.w1, s.w2].map((w) => logCount(w, 'proxy', DB_UNREACHABLE)));
  assert.ok(noticed.every((n, i) => n > unreachable[i]!), 'a proxy never lost its route database: the outage was not exercised');
  // Everything recovers: nobody was declared lost, and a new deployment goes live and is served on both hosts.
  assert.deepEqual(await s.sql(`SELECT data->>'nodeId' AS node FROM events WHERE kind = 'node.lost' AND at >= $1`, [since]), []);
  const next = await s.api.deploy(PROJECT, APP, APP_SPEC);
  const ids = new Set(next.tasks.filter((task) => task.desiredState === 'running').map((task) => task.id));
  for (const w of [s.w1, s.w2]) await waitFor(`${w.name}'s proxy to serve the new deployment`, async () => ids.has((await viaProxy(w.proxyUrl)).task!), 60_000);
  t.diagnostic(`PostgreSQL back -> API answering: ${apiBackMs} ms; -> proxies read routes: ${proxiesBackMs} ms; -> new deployment served on both hosts: ${Date.now() - restartedAt} ms`);
}
