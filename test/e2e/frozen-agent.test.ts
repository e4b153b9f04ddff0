/**
 * Issue 14.4: losing contact with an agent is not losing its tasks. The agent is frozen (SIGSTOP)
 * while its app keeps answering; the control plane declares the node down, yet the app stays in
 * the proxy's routes (no replacement could be healthy: this is the only node), so not one request
 * fails. Thawed, the agent carries on: the task is neither lost nor restarted.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { runCli } from '../../cli/run-cli.test-helper.js';
import { sleep, waitFor } from '../../dev/processes.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';

describe('a frozen agent keeps its apps serving', { timeout: 300_000 }, () => {
  let stack: Stack;
  let dir: string;
  let pool: ReturnType<typeof createPool>;
  const sql = async (text: string, args: unknown[] = []) => (await pool.query(text, args)).rows;
  const host = () => `frozen.${stack.appsDomain}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-frozen-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('frozen_agent'),
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(50) },
    });
    pool = createPool(stack.db.options, 2);
    pool.on('error', () => {});
    const env = { ZECTRE_CONFIG: join(dir, 'cli.json') };
    const ok = async (...args: string[]) => {
      const run = await runCli(args, env, undefined, 150_000);
      assert.equal(run.code, 0, `zectre ${args.join(' ')}: ${run.stdout}\n${run.stderr}`);
    };
    await cp(join(ROOT, 'examples/hello'), join(dir, 'hello'), { recursive: true });
    await ok('login', '--api', stack.apiUrl, '--token', stack.adminToken);
    await ok('projects', 'create', 'frozen');
    await ok('deploy', join(dir, 'hello'), '--project', 'frozen');
  });
  after(async () => {
    try {
      process.kill(stack.agent.proc.pid!, 'SIGCONT');
    } catch {
      // not running
    }
    await pool?.end();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('SIGSTOP the agent: the node goes down, its app keeps answering through the proxy, and after SIGCONT nothing restarted', async () => {
    const [task] = await sql(`SELECT t.id FROM tasks t JOIN deployments d ON d.id = t.deployment_id JOIN projects p ON p.id = d.project_id
      WHERE p.slug = 'frozen' AND t.desired_state = 'running'`);
    const answers: number[] = [];
    const failures: string[] = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } }).catch((err: Error) => err);
        if (res instanceof Error) failures.push(res.message);
        else {
          const body = await res.body.text();
          if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body.slice(0, 120)}`);
        }
        answers.push(Date.now());
        await sleep(20);
      }
    })();
    try {
      await waitFor('requests through the proxy', async () => answers.length >= 20, 30_000);
      process.kill(stack.agent.proc.pid!, 'SIGSTOP');
      await waitFor('the node to be declared down', async () => {
        // No other node heartbeats here: a scale to the same count also runs a scheduler pass.
        await fetch(`${stack.apiUrl}/api/v1/projects/frozen/scale`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ replicas: 1 }),
        }).then((r) => r.body?.cancel());
        return (await sql(`SELECT 1 FROM nodes WHERE status = 'down'`)).length === 1;
      }, 60_000);
      // The proxy serves a table made after the node went down: the route epoch moved, and the
      // proxy reported it. Requests from then on are what the down node's routing gives.
      const [{ epoch }] = await sql('SELECT epoch FROM route_epoch');
      await waitFor('the proxy to serve the latest routes', async () => (await sql('SELECT 1 FROM proxies WHERE epoch >= $1', [epoch])).length > 0, 30_000);
      const seen = answers.length;
      await waitFor('50 more requests with the node down', async () => answers.length >= seen + 50, 60_000);
      assert.deepEqual(await sql(`SELECT status FROM nodes`), [{ status: 'down' }], 'the node came back too early for this test to mean anything');
    } finally {
      process.kill(stack.agent.proc.pid!, 'SIGCONT');
    }
    await waitFor('the node to be ready again', async () => (await sql(`SELECT 1 FROM nodes WHERE status = 'ready'`)).length === 1, 60_000);
    const seen = answers.length;
    await waitFor('20 more requests with the node back', async () => answers.length >= seen + 20, 30_000);
    streaming = false;
    await stream;
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${answers.length} requests failed`);
    const [after] = await sql('SELECT desired_state, observed_state, restarts FROM tasks WHERE id = $1', [task.id]);
    assert.deepEqual(after, { desired_state: 'running', observed_state: 'healthy', restarts: 0 });
    console.log(`# ${answers.length} requests through the proxy while the agent was frozen and thawed, none failed`);
  });
});
