/**
 * The agent on the real stack (workerd edge, real DB, real processes), with push turned off so
 * everything arrives by polling, as behind NAT: a SIGKILLed agent re-adopts its tasks, and a 30 s
 * control-plane outage loses none of 10,000 log lines and restarts nothing. The installer tests
 * run last on the same stack (one stack start for the whole file).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Deployment } from '../../protocol/index.js';
import { sleep, waitFor } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { installerTests } from './agent-install.js';
import { apiClient, taskGroupsUnder, taskPortRange, WRITER_APP } from './agent-support.js';

const SECRET = 'hunter2-correct-horse';
const OUTAGE_MS = 30_000;
const LINES = 10_000;

describe('agent on the real stack, push off', { timeout: 240_000 }, () => {
  let dir: string;
  let stack: Stack;
  let api: ReturnType<typeof apiClient>;
  let pool: ReturnType<typeof createPool>;
  let deployment: Deployment;
  const sql = async (text: string, args: unknown[] = []) => (await pool.query(text, args)).rows;
  const appPid = async (port: number) => ((await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { pid: number }).pid;
  const pids = () => Promise.all(deployment.tasks.map((t) => appPid(t.port)));
  const taskGroups = () => taskGroupsUnder(stack.agentWorkDir);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-agent-e2e-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('agent'),
      heartbeatIntervalMs: 1000,
      agentEnv: { ZECTRE_AGENT_PUSH: 'off', ZECTRE_AGENT_PORT_RANGE: taskPortRange() },
      echo: process.env.ZECTRE_TEST_ECHO === '1',
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    pool = createPool(stack.db.options, 2);
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('with push off (poll only) three tasks of a deployment become healthy', async () => {
    deployment = await api.deploy('writer', WRITER_APP, {
      command: 'node server.mjs',
      replicas: 3,
      env: { API_SECRET: SECRET },
      healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 },
    });
    assert.equal(deployment.tasks.length, 3);
    const [node] = await sql('SELECT push_url FROM nodes');
    assert.equal(node.push_url, null, 'a poll-only node registers no push URL');
  });

  test('secret env values are redacted before logs leave the agent; CPU and RSS are reported', async () => {
    const rows = await waitFor('the start line of every task', async () => {
      const r = await sql(`SELECT line FROM task_logs WHERE line LIKE 'token is %'`);
      return r.length === 3 && r;
    }, 20_000);
    for (const { line } of rows) assert.equal(line, 'token is [redacted]');
    const [leak] = await sql('SELECT count(*)::int AS n FROM task_logs WHERE line LIKE $1', [`%${SECRET}%`]);
    assert.equal(leak.n, 0);
    await waitFor('rss reported', async () => (await sql('SELECT rss_bytes FROM tasks WHERE rss_bytes > 0')).length === 3, 20_000);
  });

  test('after SIGKILL the restarted agent re-adopts the same three processes and starts no duplicate', async () => {
    const before = await pids();
    assert.equal(taskGroups().size, 3);
    await stack.restartAgent('SIGKILL');
    await waitFor('three re-adoptions', async () => (stack.agent.output().match(/re-adopted pid/g) ?? []).length === 3 || undefined, 20_000);
    // A few heartbeats later: still the very same processes, nothing started twice, nothing restarted.
    await sleep(3000);
    assert.deepEqual(await pids(), before);
    assert.equal(taskGroups().size, 3, 'exactly three task process groups');
    const tasks = await sql(`SELECT observed_state, restarts FROM tasks WHERE desired_state = 'running'`);
    assert.deepEqual(tasks.map((t) => [t.observed_state, t.restarts]), [['healthy', 0], ['healthy', 0], ['healthy', 0]]);
  });

  test(`a ${OUTAGE_MS / 1000} s API outage: tasks keep running, all ${LINES} lines arrive in order once, nothing restarts`, async () => {
    const before = await pids();
    const task = deployment.tasks[0]!;
    await stack.stopWorker();
    await fetch(`http://127.0.0.1:${task.port}/write?n=${LINES}`);
    await sleep(OUTAGE_MS);
    assert.deepEqual(await pids(), before, 'tasks ran on through the outage');
    await stack.startWorker();
    const rows = await waitFor(`all ${LINES} lines stored`, async () => {
      const r = await sql(`SELECT seq, line FROM task_logs WHERE task_id = $1 AND line LIKE 'line %' ORDER BY seq`, [task.id]);
      return r.length >= LINES && r;
    }, 60_000);
    assert.equal(rows.length, LINES, 'no line stored twice');
    assert.deepEqual(rows.map((r) => r.line), Array.from({ length: LINES }, (_, i) => `line ${i + 1}`));
    await sleep(2500); // heartbeats after the return: the agent reconciles by generation
    assert.deepEqual(await pids(), before, 'no task restarted after the control plane returned');
    assert.equal(taskGroups().size, 3);
  });

  test('/metrics reports tasks by state, restarts, log lines shipped and heartbeat round trips', async () => {
    const port = /listening on (http:\/\/[\d.]+:\d+)/.exec(stack.agent.output())![1];
    const text = await (await fetch(`${port}/metrics`)).text();
    assert.match(text, /zectre_agent_tasks\{state="healthy"\} 3/);
    assert.match(text, /zectre_agent_task_restarts 0/);
    const shipped = Number(/zectre_agent_log_lines_shipped_total (\d+)/.exec(text)?.[1]);
    assert.ok(shipped >= LINES, `shipped ${shipped}`);
    assert.match(text, /zectre_agent_log_lines_dropped_total 0/);
    assert.match(text, /zectre_agent_heartbeat_rtt_seconds_count [1-9]/);
  });

  installerTests(() => stack, () => join(dir, 'state'), sql);
});
