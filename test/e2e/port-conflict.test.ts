/**
 * A task's port held by a process that is not ours (issue 14: someone else's `node server.js` on
 * the app's port), on the real stack (workerd edge, real DB, proxy, agent, app processes): the
 * agent reports the task failed with port_in_use after a short wait, the scheduler replaces it on
 * another port and the deploy goes live well inside its deadline, with no operator action; the
 * busy port is then avoided for the node's next tasks.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Deployment } from '../../protocol/index.js';
import { waitFor } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { apiClient, taskPortRange, WRITER_APP } from './agent-support.js';

const SPEC = {
  command: 'node server.mjs',
  replicas: 1,
  env: { API_SECRET: 'x' },
  healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 },
  deadlineSeconds: 60,
};

/** A plain TCP listener that is none of ours, answering every connection with a fixed HTTP response. */
function squat(port: number): Promise<Server> {
  const server = createServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nsquatter'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

describe('a task port held by another process', { timeout: 180_000 }, () => {
  let dir: string;
  let stack: Stack;
  let api: ReturnType<typeof apiClient>;
  let pool: ReturnType<typeof createPool>;
  let squatter: Server;
  const range = taskPortRange();
  const busy = Number(range.split('-')[0]);
  const sql = async (text: string, args: unknown[] = []) => (await pool.query(text, args)).rows;

  before(async () => {
    squatter = await squat(busy); // before the agent starts: its first task port is someone else's
    dir = await mkdtemp(join(tmpdir(), 'zectre-port-conflict-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('port_conflict'),
      heartbeatIntervalMs: 1000,
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: range },
      echo: process.env.ZECTRE_TEST_ECHO === '1',
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    pool = createPool(stack.db.options, 2);
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    await new Promise((resolve) => squatter?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  test('the deploy goes live on another port before its deadline, and the app answers through the proxy', async () => {
    const deployment = await api.deploy('squatted', WRITER_APP, SPEC); // throws if it failed (deadline)
    const wentLive = Date.now();
    assert.equal(deployment.status, 'live');
    assert.ok(wentLive < Date.parse(deployment.deadlineAt), 'live before its deadline, not after waiting it out');
    const running = deployment.tasks.filter((t) => t.desiredState === 'running');
    assert.equal(running.length, 1);
    assert.notEqual(running[0]!.port, busy, 'the live task is not on the busy port');

    const [first] = await sql(`SELECT port, desired_state, observed_state, observed_code FROM tasks ORDER BY created_at LIMIT 1`);
    assert.deepEqual([first.port, first.observed_code, first.desired_state], [busy, 'port_in_use', 'stopped'], 'the first task found its port taken and was replaced');

    const res = await request(`${stack.proxyUrl}/`, { headers: { host: `squatted.${stack.appsDomain}` } });
    assert.equal(res.statusCode, 200);
    const { pid } = (await res.body.json()) as { pid: number };
    assert.ok(pid > 0, 'the app answers through the proxy');
    const direct = await request(`http://127.0.0.1:${running[0]!.port}/`);
    assert.equal(((await direct.body.json()) as { pid: number }).pid, pid);
  });

  test('the busy port stays avoided: the node reports it, and the next task gets another port at once', async () => {
    await waitFor('the replaced task gone from the node', async () => (await sql(`SELECT 1 FROM tasks WHERE port = $1 AND observed_state <> 'stopped'`, [busy])).length === 0, 30_000, stack.agent);
    const [node] = await sql('SELECT foreign_ports FROM nodes');
    assert.deepEqual(node.foreign_ports, [busy]);
    const other = await api.deploy('second', WRITER_APP, SPEC);
    const [task] = other.tasks.filter((t) => t.desiredState === 'running');
    assert.notEqual(task!.port, busy);
    const squattedAgain = await sql(
      `SELECT t.id FROM tasks t JOIN deployments d ON d.id = t.deployment_id WHERE d.id = $1 AND t.observed_code IS NOT NULL`,
      [other.id],
    );
    assert.deepEqual(squattedAgain, [], 'no task of the second deploy was sent to the busy port');
  });
});
