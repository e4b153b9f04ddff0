/**
 * Agent faults on the real stack (workerd edge, real DB, proxy, agent, app processes), with the
 * agent's control-plane traffic through a gate (agent-api-gate.ts) that can stall downloads and hold
 * heartbeats: a SIGKILLed agent loses no request to its re-adopted tasks; an agent killed in the
 * middle of a download converges on the new release and leaves no partial file; an agent frozen
 * long enough to be declared lost asks the control plane before it restarts anything.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Deployment } from '../../protocol/index.js';
import { freePort } from '../../dev/ports.js';
import { waitFor } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { startApiGate, type ApiGate } from './agent-api-gate.js';
import { apiClient, tarball, taskPortRange } from './agent-support.js';
import { steadyStream } from './operate-support.js';

/** GET / answers the release and pid; GET /exit ends the process with code 1. */
const app = (release: string, padding = '') => ({
  'server.mjs': `
import http from 'node:http';
http.createServer((req, res) => {
  if (req.url === '/exit') process.exit(1);
  res.end(JSON.stringify({ release: '${release}', pid: process.pid }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
  // Incompressible bytes: the artifact is larger than what the gate lets through before it stalls.
  ...(padding ? { 'padding.txt': padding } : {}),
});
const SPEC = { command: 'node server.mjs', replicas: 1, healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 } };

describe('agent faults on the real stack', { timeout: 300_000 }, () => {
  let dir: string;
  let stack: Stack;
  let gate: ApiGate;
  let api: ReturnType<typeof apiClient>;
  let pool: ReturnType<typeof createPool>;
  const sql = async (text: string, args: unknown[] = []) => (await pool.query(text, args)).rows;
  const host = () => `steady.${stack.appsDomain}`;
  const artifactsDir = () => join(dir, 'state', 'agent', 'artifacts');
  const liveTask = async () => (await sql(`SELECT id, port FROM tasks WHERE desired_state = 'running' AND observed_state = 'healthy'`))[0] as { id: string; port: number } | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-agent-faults-'));
    const edge = await freePort();
    gate = await startApiGate(edge);
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('agent_faults'),
      ports: { edge },
      heartbeatIntervalMs: 1000,
      // Poll only: everything the control plane says reaches the agent through the gate.
      agentEnv: { ZECTRE_API_URL: gate.url, ZECTRE_AGENT_PUSH: 'off', ZECTRE_AGENT_PORT_RANGE: taskPortRange() },
      echo: process.env.ZECTRE_TEST_ECHO === '1',
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    pool = createPool(stack.db.options, 2);
    await api.deploy('steady', app('v1'), SPEC);
  });
  after(async () => {
    gate?.release();
    await pool?.end();
    await stack?.stop();
    await gate?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('SIGKILL and restart of the agent: its re-adopted task stays healthy and routable, no request fails', async () => {
    const stream = steadyStream(stack.proxyUrl, host());
    await stack.restartAgent('SIGKILL');
    await waitFor('the re-adoption', async () => /re-adopted pid/.test(stack.agent.output()), 20_000, stack.agent);
    await waitFor('the desired state applied by the new agent', async () => /applied generation/.test(stack.agent.output()), 20_000, stack.agent);
    // Requests across a few more heartbeats of the new agent, whose reports the control plane has stored.
    const seen = (await sql(`SELECT last_heartbeat_at FROM nodes`))[0].last_heartbeat_at as Date;
    await waitFor('three more heartbeats', async () => {
      const [n] = await sql(`SELECT last_heartbeat_at > $1::timestamptz + interval '2 seconds' AS later FROM nodes`, [seen]);
      return n.later;
    }, 20_000);
    const result = await stream.stop();
    console.log(`agent restart: ${result.failures.length} of ${result.requests} requests failed`);
    assert.deepEqual(result.failures, []);
    assert.ok(result.requests > 0);
  });

  test('SIGKILL during the download of a new release: the restarted agent converges on it and removes the partial download', async () => {
    gate.stallBlobs = true;
    const padding = randomBytes(512 * 1024).toString('base64');
    const { digest } = await api.call<{ digest: string }>('PUT', '/api/v1/projects/steady/artifacts', undefined, await tarball(app('v2', padding)));
    const created = await api.call<Deployment>('POST', '/api/v1/projects/steady/deployments', { ...SPEC, artifact: digest });
    await waitFor('a partial download', async () => readdirSync(artifactsDir()).some((f) => f.includes('.partial')), 30_000, stack.agent);
    gate.stallBlobs = false;
    await stack.restartAgent('SIGKILL');
    await waitFor('the new release live', async () => {
      const d = await api.call<Deployment>('GET', `/api/v1/deployments/${created.id}`);
      if (d.status === 'failed') throw new Error(`deployment failed: ${d.statusReason}`);
      return d.status === 'live';
    }, 60_000, stack.agent);
    const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
    assert.equal(((await res.body.json()) as { release: string }).release, 'v2');
    assert.deepEqual(readdirSync(artifactsDir()).filter((f) => f.includes('.partial')), [], 'no partial download left');
  });

  test('an agent frozen until its node is declared down asks the control plane first when it resumes: its task that exited meanwhile is not restarted before the answer', async () => {
    const task = (await waitFor('the live task', liveTask, 20_000))!;
    const agentPid = stack.agent.proc.pid!;
    process.kill(agentPid, 'SIGSTOP');
    try {
      await request(`http://127.0.0.1:${task.port}/exit`).catch(() => undefined); // the app exits while nobody watches
      await waitFor('the node declared down', async () => {
        // No other node heartbeats here: a scale to the same count runs the scheduler pass that sweeps silent nodes.
        await api.call('POST', '/api/v1/projects/steady/scale', { replicas: 1 });
        const [n] = await sql('SELECT status FROM nodes');
        return n.status === 'down';
      }, 60_000);
      gate.holdHeartbeats = true; // a slow control plane: what the agent does next, it does on its own
    } finally {
      process.kill(agentPid, 'SIGCONT');
    }
    const output = () => stack.agent.output();
    const restarts = () => gate.logLines(task.id).filter((l) => l.startsWith('restarting'));
    await waitFor('the agent holding task starts, or restarting the task on its own', async () =>
      /did not run for/.test(output()) || restarts().length > 0, 30_000, stack.agent);
    assert.deepEqual(restarts(), [], 'nothing restarted before the control plane answered');
    gate.release();
    await waitFor('the answer applied', async () => /the control plane answered after the pause/.test(output()), 30_000, stack.agent);
    await waitFor('the app serving through the proxy again', async () => {
      const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
      await res.body.text();
      return res.statusCode === 200;
    }, 60_000, stack.agent);
    const [t] = await sql('SELECT desired_state, observed_state FROM tasks WHERE id = $1', [task.id]);
    console.log(`frozen agent: the control plane had the exited task ${t.desired_state}/${t.observed_state}; restarts shipped: ${restarts().length}`);
  });
});
