/**
 * The proxy during deploys, on the real stack (edge in workerd, agent, proxy, real CLI):
 * - a steady stream of requests through the proxy sees no failure while new versions go live,
 *   and the answers switch from old to new, never back;
 * - the oldest release's tasks are stopped only once every live proxy acknowledged the epoch that
 *   took them out of routing: a second, frozen (SIGSTOP) proxy holds the stop back until it thaws;
 *   the same for the extra task of a scale-down;
 * - the scheduler's push path through the proxy reaches the real agent (which checks the token).
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { runCli, startCli } from '../../cli/run-cli.test-helper.js';
import { startProxyProcess } from '../../dev/bench-proxy-process.js';
import { sleep } from '../../dev/processes.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';

describe('proxy during deploys, end to end', { timeout: 240_000 }, () => {
  let stack: Stack;
  let dir: string;
  let pool: ReturnType<typeof createPool>;
  const cli = (...args: string[]) => runCli(args, { ZECTRE_CONFIG: join(dir, 'cli.json') });
  const app = () => join(dir, 'hello');
  const host = () => `hello.${stack.appsDomain}`;
  const query = async <T>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as T[];

  const setVersion = async (version: number) => {
    const server = join(app(), 'server.js');
    const source = await readFile(server, 'utf8');
    await writeFile(server, source.replace(/HELLO_VERSION \|\| '\d+'/, `HELLO_VERSION || '${version}'`));
  };
  const deployVersion = async (version: number): Promise<string> => {
    await setVersion(version);
    const run = await cli('deploy', app(), '--project', 'hello', '--json');
    assert.equal(run.code, 0, `deploy of version ${version} failed:\n${run.stdout}\n${run.stderr}`);
    return (JSON.parse(run.stdout) as { id: string }).id;
  };

  /** Sequential requests on keep-alive connections until stopped; every answer is kept. */
  const stream = (workers: number) => {
    const answers: { status: number; body: string }[][] = Array.from({ length: workers }, () => []);
    let running = true;
    const loops = answers.map(async (mine) => {
      while (running) {
        try {
          const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
          mine.push({ status: res.statusCode, body: await res.body.text() });
        } catch (err) {
          mine.push({ status: -1, body: String(err) });
        }
      }
    });
    return {
      answers,
      latest: () => answers.map((a) => a.at(-1)?.body ?? ''),
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  };
  const waitUntil = async (what: string, check: () => Promise<boolean> | boolean, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(100);
    }
  };

  /**
   * Waits for `condition`, then for a scheduler pass that started after it held: every heartbeat runs
   * one, and the agent sends its next heartbeat only after the previous one was answered, so the
   * second heartbeat after that moment finds the first one's pass finished.
   */
  const waitForSchedulerPassAfter = async (condition: () => Promise<boolean>) => {
    await waitUntil('the condition before a scheduler pass', condition);
    const beat = async () => (await query<{ at: Date }>('SELECT max(last_heartbeat_at) AS at FROM nodes'))[0]!.at.getTime();
    for (let i = 0; i < 2; i++) {
      const seen = await beat();
      await waitUntil('the next heartbeat', async () => (await beat()) > seen);
    }
  };

  /**
   * A second real proxy on the same database, then frozen (SIGSTOP): it stops applying routes and
   * reporting. Until it thaws, the test keeps its row's last report an hour ahead, so the control
   * plane counts it live (a proxy alive but behind) however long a loaded machine takes, instead of
   * for the 10 s liveness window after its last real report. (Kept, not set once: a report the proxy
   * sent just before it froze can still land after the first pin.) Once thawed, its own reports
   * replace the row.
   */
  const startFrozenProxy = async (id: string) => {
    const { child } = await startProxyProcess(stack.db.options, stack.appsDomain, { env: { ZECTRE_PROXY_ID: id } });
    await waitUntil(`proxy ${id} to report`, async () => (await query('SELECT 1 FROM proxies WHERE id = $1', [id])).length === 1, 30_000);
    process.kill(child.proc.pid!, 'SIGSTOP');
    const pin = () => query("UPDATE proxies SET last_seen_at = now() + interval '1 hour' WHERE id = $1", [id]);
    await pin();
    let pinning = true;
    const pinned = (async () => {
      while (pinning) {
        await sleep(500);
        if (pinning) await pin();
      }
    })();
    const thaw = async () => {
      pinning = false;
      await pinned;
      process.kill(child.proc.pid!, 'SIGCONT');
    };
    return {
      thaw,
      stop: async () => {
        if (pinning) await thaw();
        await child.stop();
      },
    };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-proxy-e2e-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('proxy_e2e'),
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(50) },
    });
    pool = createPool(stack.db.options, 2);
    pool.on('error', () => {});
    assert.equal((await cli('login', '--api', stack.apiUrl, '--token', stack.adminToken)).code, 0);
    assert.equal((await cli('projects', 'create', 'hello')).code, 0);
    await cp(join(ROOT, 'examples/hello'), app(), { recursive: true });
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let v1 = '';
  test('zero failed requests while two new versions are deployed and cut over; answers switch old -> new', async () => {
    v1 = await deployVersion(1);
    await waitUntil('version 1 through the proxy', async () => {
      const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
      return res.statusCode === 200 && /version 1/.test(await res.body.text());
    });
    const load = stream(4);
    try {
      await deployVersion(2);
      await waitUntil('every stream to see version 2', () => load.latest().every((b) => /version 2/.test(b)));
    } finally {
      await load.stop();
    }
    const all = load.answers.flat();
    assert.ok(all.length > 20, `the stream made only ${all.length} requests`);
    console.log(`${all.length} requests through the proxy during the deploy and cutover`);
    const failed = all.filter((a) => a.status !== 200 || !/^hello from zectre \(version [12]\)/.test(a.body));
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${all.length} requests failed`);
    for (const answers of load.answers) {
      const versions = answers.map((a) => Number(/version (\d)/.exec(a.body)![1]));
      assert.equal(versions[0], 1, 'the stream started on the old version');
      assert.equal(versions.at(-1), 2, 'the stream ended on the new version');
      assert.deepEqual(versions, [...versions].sort(), 'once switched, never back');
    }
  });

  test('the oldest release stops, and the CLI says live, only after every live proxy acknowledged the new routes', async () => {
    const frozen = await startFrozenProxy('frozen');
    try {
      await setVersion(3);
      const deploying = await startCli(['deploy', app(), '--project', 'hello'], { ZECTRE_CONFIG: join(dir, 'cli.json') });
      // Version 3's cutover turns version 2 into the standby and supersedes version 1; the CLI then
      // waits for the proxies still behind: the frozen one, and the stack's own if it has not caught up yet.
      await waitUntil('the CLI to wait for the frozen proxy', () => /waiting for \d+ proxy\(ies\) to serve route epoch \d+: .*\bfrozen\b/.test(deploying.output()));
      const [retiring] = await query<{ retire_epoch: string | null; status: string }>('SELECT retire_epoch, status FROM deployments WHERE id = $1', [v1]);
      assert.equal(retiring!.status, 'superseded');
      const [proxy] = await query<{ epoch: string }>("SELECT epoch FROM proxies WHERE id = 'frozen'");
      assert.ok(retiring!.retire_epoch !== null && Number(proxy!.epoch) < Number(retiring!.retire_epoch), JSON.stringify({ retiring, proxy }));
      // The other proxy acknowledges and the scheduler runs again: the old tasks still wait for the frozen one.
      await waitForSchedulerPassAfter(async () =>
        (await query<{ epoch: string }>("SELECT epoch FROM proxies WHERE id <> 'frozen'")).every((p) => Number(p.epoch) >= Number(retiring!.retire_epoch)));
      const running = await query("SELECT 1 FROM tasks WHERE deployment_id = $1 AND desired_state = 'running'", [v1]);
      assert.ok(running.length > 0, 'the superseded tasks were stopped before the frozen proxy acknowledged');
      assert.doesNotMatch(deploying.output(), /live at /, 'the CLI said live while a live proxy still served the old routes');
      await frozen.thaw();
      const run = await deploying.done;
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /live at /);
      assert.doesNotMatch(run.stdout, /warning: proxy/);
      await waitUntil('the old tasks to be stopped', async () =>
        (await query("SELECT 1 FROM tasks WHERE deployment_id = $1 AND desired_state = 'running'", [v1])).length === 0);
      const timeouts = await query("SELECT data FROM events WHERE kind = 'deployment.retire_timeout'");
      assert.deepEqual(timeouts, [], 'stopped by acknowledgement, not by the timeout');
      const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
      assert.match(await res.body.text(), /version 3/);
    } finally {
      await frozen.stop();
    }
  });

  test('scale-down: the extra task leaves routing at once and stops only after every live proxy acknowledged', async () => {
    assert.equal((await cli('scale', 'hello', '2')).code, 0);
    const [live] = await query<{ id: string }>("SELECT live_deployment_id AS id FROM projects WHERE slug = 'hello'");
    const frozen = await startFrozenProxy('frozen-scale');
    try {
      const load = stream(2);
      let retiring: { id: string; port: number; desired_state: string }[];
      try {
        assert.equal((await cli('scale', 'hello', '1', '--no-wait')).code, 0);
        retiring = await query('SELECT id, port, desired_state FROM tasks WHERE deployment_id = $1 AND retire_epoch IS NOT NULL', [live!.id]);
        assert.equal(retiring.length, 1, 'one task retires');
        const epoch = Number((await query<{ retire_epoch: string }>('SELECT retire_epoch FROM tasks WHERE id = $1', [retiring[0]!.id]))[0]!.retire_epoch);
        // The other proxy acknowledges and the scheduler runs again while the frozen one lags.
        await waitForSchedulerPassAfter(async () =>
          (await query<{ epoch: string }>("SELECT epoch FROM proxies WHERE id <> 'frozen-scale'")).every((p) => Number(p.epoch) >= epoch));
        const [still] = await query<{ desired_state: string }>('SELECT desired_state FROM tasks WHERE id = $1', [retiring[0]!.id]);
        const timedOut = stack.worker.output().match(/stopping tasks [^\n]*/g) ?? [];
        assert.equal(still!.desired_state, 'running', `the retiring task was stopped before the frozen proxy acknowledged ${timedOut.join('; ')}`);
        const status = await cli('status', 'hello');
        assert.match(status.stdout, new RegExp(`${retiring[0]!.id}.*retiring`), status.stdout);
      } finally {
        await frozen.thaw();
        await waitUntil('the retired task to be stopped', async () =>
          (await query<{ desired_state: string }>('SELECT desired_state FROM tasks WHERE id = $1', [retiring![0]!.id]))[0]!.desired_state === 'stopped');
        await load.stop();
      }
      const all = load.answers.flat();
      const failed = all.filter((a) => a.status !== 200);
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${all.length} requests failed during the scale-down`);
      const running = await query("SELECT 1 FROM tasks WHERE deployment_id = $1 AND desired_state = 'running'", [live!.id]);
      assert.equal(running.length, 1);
    } finally {
      await frozen.stop();
    }
  });

  test("the scheduler's push path through the proxy reaches this node's agent, which checks the token", async () => {
    const [node] = await query<{ id: string }>('SELECT id FROM nodes LIMIT 1');
    const res = await request(`${stack.proxyUrl}/v1/desired-state`, {
      method: 'POST',
      headers: { host: `${node!.id}.nodes.${stack.appsDomain}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'not.a.jwt' }),
    });
    assert.equal(res.statusCode, 401);
    assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'invalid_push_token');
    const other = await request(`${stack.proxyUrl}/anything`, { headers: { host: `${node!.id}.nodes.${stack.appsDomain}` } });
    assert.equal(other.statusCode, 404);
    await other.body.dump();
  });
});
