/**
 * Issue 5, the CLI half, end to end: the real `zectre` binary against one real stack (edge in
 * workerd, two real agents, the real proxy). Rollback, scale and drain each run under a steady
 * request stream through the proxy, which must see no failed request and end on what was promised.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { ApiTokenView, CreatedApiToken, CreatedJoinToken, Deployment, NodeView } from '../../protocol/index.js';
import { ROOT } from '../../dev/root.js';
import { sleep, type Child } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { runCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { testDatabase } from '../support/database.js';
import { startSecondAgent, steadyStream, type StreamResult } from './operate-support.js';
import { taskPortRange } from './agent-support.js';

const echo = process.env.ZECTRE_TEST_ECHO === '1';
/** This stack's upload limit: examples/hello packs to about 1 KB. */
const ARTIFACT_LIMIT = 256 * 1024;
/**
 * Task port blocks picked at random: both agents bind 127.0.0.1, and so does any other stack running
 * on this machine at the same time (default range 20000-29999), so fixed ranges collide (EADDRINUSE).
 */
const ports = (() => {
  const low = Number(taskPortRange(200).split('-')[0]);
  return { local: `${low}-${low + 99}`, second: `${low + 100}-${low + 199}` };
})();

describe('zectre CLI operates apps end to end', { timeout: 900_000 }, () => {
  let stack: Stack;
  let dir: string;
  let second: Child | undefined;
  let env: Record<string, string>;
  // Waiting commands (deploy, drain) are bounded by their own deadlines; this only catches a hang.
  const zectre = (...args: string[]): Promise<CliRun> => runCli(args, env);
  const ok = async (...args: string[]): Promise<CliRun> => {
    const run = await zectre(...args);
    assert.equal(run.code, 0, `zectre ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run;
  };
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse((await ok(...args)).stdout) as T;
  const host = () => `ops.${stack.appsDomain}`;
  /** Runs `change` while requests stream through the proxy; returns what the stream saw. */
  const underLoad = async (change: () => Promise<unknown>): Promise<StreamResult> => {
    const stream = steadyStream(stack.proxyUrl, host());
    try {
      await change();
      await sleep(1_500); // keep streaming through the tail of the change (old tasks stopping)
    } catch (err) {
      await stream.stop();
      throw err;
    }
    return stream.stop();
  };
  const assertNoFailures = (seen: StreamResult, what: string) => {
    assert.ok(seen.requests > 10, `the stream during ${what} made only ${seen.requests} requests`);
    const sample = [...new Set(seen.failures)].slice(0, 3).join('; ');
    assert.equal(seen.failures.length, 0, `${seen.failures.length} of ${seen.requests} requests failed during ${what}: ${sample}`);
    console.log(`# ${what}: ${seen.requests} requests through the proxy, none failed`);
  };
  /** Polls until `check` holds; the bound only catches a hang (a loaded machine is slow, not wrong). */
  const eventually = async (what: string, check: () => Promise<boolean>, detail = () => '') => {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${detail()}`);
      await sleep(100);
    }
  };
  const serves = async (want: RegExp) => {
    let last = '';
    await eventually(`${host()} to answer ${want}`, async () => {
      const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } }).catch(() => null);
      last = res ? `${res.statusCode} ${await res.body.text()}` : 'no answer';
      return res?.statusCode === 200 && want.test(last);
    }, () => `; last: ${last}`);
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-operate-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('operate'),
      heartbeatIntervalMs: 1000,
      echo,
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: ports.local },
      workerVars: { MAX_ARTIFACT_BYTES: String(ARTIFACT_LIMIT) },
    });
    env = { ZECTRE_CONFIG: join(dir, 'cli.json') };
    await cp(join(ROOT, 'examples/hello'), join(dir, 'hello'), { recursive: true });
  });
  after(async () => {
    await second?.stop();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('login, whoami --json, logout (then commands say how to log in: exit 3)', async () => {
    await ok('login', '--api', stack.apiUrl, '--token', stack.adminToken);
    const me = await json<{ user: { name: string; isAdmin: boolean }; apiUrl: string }>('whoami', '--json');
    assert.equal(me.user.isAdmin, true);
    assert.equal(me.apiUrl, stack.apiUrl);
    assert.match((await ok('logout')).stdout, /logged out/);
    const after = await zectre('whoami');
    assert.equal(after.code, 3);
    assert.match(after.stderr, /^error: not logged in/);
    await ok('login', '--api', stack.apiUrl, '--token', stack.adminToken);
  });

  let v1: Deployment;
  test('projects create, deploy with per-node progress, deployments list --json', async () => {
    await ok('projects', 'create', 'ops');
    const list = await json<{ projects: { name: string }[] }>('projects', 'list', '--json');
    assert.ok(list.projects.some((p) => p.name === 'ops'));
    const run = await ok('deploy', join(dir, 'hello'), '--project', 'ops', '--json');
    v1 = JSON.parse(run.stdout);
    assert.equal(v1.status, 'live');
    assert.match(run.stderr, /\d\/1 tasks healthy \(local \d\/1\)/);
    assert.match(run.stderr, /live at http:\/\/ops\./);
    await serves(/version 1/);
    const history = await json<{ deployments: Deployment[] }>('deployments', 'list', 'ops', '--json');
    assert.deepEqual(history.deployments.map((d) => d.id), [v1.id]);
  });

  test('deploy checks what it can before it uploads: the project, a start command, the size against the limit', async () => {
    const app = join(dir, 'big');
    await cp(join(dir, 'hello'), app, { recursive: true });
    await writeFile(join(app, 'media.bin'), randomBytes(ARTIFACT_LIMIT + 1)); // random: gzip cannot shrink it

    const unknown = await zectre('deploy', app, '--project', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: project nope does not exist .*`zectre projects create nope`/);
    assert.doesNotMatch(unknown.stdout, /packing/);

    await ok('projects', 'create', 'big');
    const bare = join(dir, 'bare');
    await mkdir(bare);
    await writeFile(join(bare, 'index.js'), 'require("node:http")\n');
    const nothing = await zectre('deploy', bare, '--project', 'big');
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /^error: nothing says how to start .*package\.json.*Procfile.*zectre\.json.*--cmd/);
    assert.doesNotMatch(nothing.stdout, /packing/);

    const tooBig = await zectre('deploy', app, '--project', 'big');
    assert.equal(tooBig.code, 1);
    assert.match(tooBig.stdout, /packing .*\n.*packed \d+ files and directories into/);
    assert.doesNotMatch(tooBig.stdout, /uploading/);
    assert.match(tooBig.stderr, /^error: the packed app is 26\d\.\d KB, over this API's artifact limit of 262\.1 KB \(MAX_ARTIFACT_BYTES\): .*\.zectreignore/);

    // Off a terminal, the upload prints progress lines instead of a bar.
    await writeFile(join(app, '.zectreignore'), 'media.bin\n');
    const run = await ok('deploy', app, '--project', 'big', '--no-wait');
    assert.match(run.stdout, /uploading .*\n(uploading: 25% .*\n)(uploading: 50% .*\n)(uploading: 75% .*\n)uploaded sha256:/);
    await ok('projects', 'delete', 'big', '--yes');
  });

  test('a CommonJS app without a package.json runs: nothing of the checkout is above the task directories', async () => {
    for (let at = stack.agentWorkDir; at !== dirname(at); at = dirname(at)) {
      assert.ok(!existsSync(join(at, 'package.json')) && !existsSync(join(at, 'node_modules')), `${at} would leak into apps`);
    }
    const app = join(dir, 'cjs');
    await mkdir(app);
    await writeFile(join(app, 'server.js'), "const http = require('node:http');\nhttp.createServer((_, res) => res.end('commonjs')).listen(process.env.PORT);\n");
    await writeFile(join(app, 'Procfile'), 'web: node server.js\n');
    await ok('projects', 'create', 'cjs');
    await ok('deploy', app, '--project', 'cjs');
    const res = await request(`${stack.proxyUrl}/`, { headers: { host: `cjs.${stack.appsDomain}` } });
    assert.equal(await res.body.text(), 'commonjs');
  });

  test('resources: --cpu/--memory over zectre.json reach the scheduler; a request no node can hold fails at once with the reason', async () => {
    const app = join(dir, 'cjs');
    await writeFile(join(app, 'zectre.json'), JSON.stringify({ resources: { cpuMillis: 300, memoryMb: 64 } }));
    const allocated = async () => (await json<{ nodes: NodeView[] }>('nodes', 'list', '--json')).nodes.find((n) => n.name === 'local')!.allocated;
    const before = await allocated(); // the live cjs task: 100m CPU and 128 MB
    const run = await ok('deploy', app, '--project', 'cjs', '--memory', '200');
    assert.match(run.stdout, /resources per task: 300m CPU, 200 MB/);
    // The previous release stays on standby, so the node now also holds the new task's 300m and 200 MB.
    let now = before;
    await eventually("the new task's resources on the node", async () => {
      now = await allocated();
      return now.cpuMillis === before.cpuMillis + 300 && now.memoryMb === before.memoryMb + 200;
    }, () => JSON.stringify({ before, now }));

    const huge = await zectre('deploy', app, '--project', 'cjs', '--memory', '1000000');
    assert.equal(huge.code, 1, huge.stdout + huge.stderr);
    assert.match(huge.stderr, /^error: deployment d\w+ cannot place every task: waiting for capacity for 1 task\(s\): no node has room for 300m CPU and 1000000 MB .*pass --wait/);
    const bounds = await zectre('deploy', app, '--project', 'cjs', '--memory', '8');
    assert.equal(bounds.code, 2);
    assert.match(bounds.stderr, /--memory \(MB\): .*>=16/);

    // scale with resources starts a release of the live one: the same placement check, at once.
    const hugeScale = await zectre('scale', 'cjs', '--memory', '1000000');
    assert.equal(hugeScale.code, 1, hugeScale.stdout + hugeScale.stderr);
    assert.match(hugeScale.stdout, /starting release d\w+ with 1000000 MB per task, 1 task\(s\)/);
    assert.match(hugeScale.stderr, /^error: deployment d\w+ cannot place every task: waiting for capacity for 1 task\(s\): no node has room for 300m CPU and 1000000 MB .*pass --wait/);
    const scaleBounds = await zectre('scale', 'cjs', '--cpu', '0m');
    assert.equal(scaleBounds.code, 2);
    for (const body of [{ resources: { memoryMb: 8 } }, { resources: {} }, { resources: { cpuMillis: '250m' } }]) {
      const res = await request(`${stack.apiUrl}/api/v1/projects/cjs/scale`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await res.body.json()) as { error?: { code: string; message: string } };
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(answer.error?.code, 'invalid_request', JSON.stringify(answer));
    }
    await ok('projects', 'delete', 'cjs', '--yes');
  });

  let v2: Deployment;
  test('env set creates a new release and says so; the proxy serves it with no failed request', async () => {
    let run: CliRun | undefined;
    const seen = await underLoad(async () => (run = await ok('env', 'set', 'ops', 'HELLO_VERSION=2', 'API_KEY=s3cr3t')));
    assert.match(run!.stdout, /created release (d[a-z0-9]+) with the new env/);
    assert.match(run!.stdout, /live at /);
    assertNoFailures(seen, 'env set');
    await serves(/version 2/);
    const listed = await json<{ vars: { key: string; value?: string }[] }>('env', 'list', 'ops', '--json');
    assert.deepEqual(listed.vars.map((v) => v.key), ['API_KEY', 'HELLO_VERSION']);
    assert.doesNotMatch(JSON.stringify(listed), /s3cr3t/);
    assert.match((await ok('env', 'list', 'ops', '--reveal')).stdout, /s3cr3t/);
    const unset = await ok('env', 'unset', 'ops', 'API_KEY');
    assert.match(unset.stdout, /created release d[a-z0-9]+/);
    const history = await json<{ deployments: Deployment[] }>('deployments', 'list', 'ops', '--json');
    v2 = history.deployments[0]!;
    assert.equal(v2.status, 'live');
    const missing = await zectre('env', 'unset', 'ops', 'API_KEY');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: .*API_KEY.*\(env_var_not_found\)\n$/);
  });

  test('rollback (default: previous good release) and rollback to an id: no failed request', async () => {
    let run: CliRun | undefined;
    const back = await underLoad(async () => (run = await ok('rollback', 'ops')));
    assertNoFailures(back, 'rollback');
    assert.match(run!.stdout, /switched routing to running release d\w+ \(no new tasks\)/); // the standby runs
    await serves(/version 2/); // the previous good release is the env-set one (HELLO_VERSION=2, API_KEY set)
    // Its env is the project's env again (as on Heroku): env list agrees with what runs, and the next deploy keeps it.
    const restored = await json<{ vars: { key: string; value?: string }[] }>('env', 'list', 'ops', '--reveal', '--json');
    assert.deepEqual(restored.vars.map((v) => [v.key, v.value]), [['API_KEY', 's3cr3t'], ['HELLO_VERSION', '2']]);
    await ok('deploy', join(dir, 'hello'), '--project', 'ops');
    await serves(/version 2/);
    const toV1 = await underLoad(async () => (run = await ok('rollback', 'ops', v1.id, '--json')));
    assertNoFailures(toV1, `rollback to ${v1.id}`);
    // Nothing of v1 runs (superseded two deploys ago): a new release with new tasks.
    assert.match(run!.stderr, new RegExp(`starting release (d\\w+) from ${v1.id} \\(new tasks\\)`));
    assert.notEqual((JSON.parse(run!.stdout) as Deployment).id, v1.id);
    await serves(/version 1/);
    assert.ok(toV1.bodies.has('hello from zectre (version 1)'), 'the stream saw the rolled-back version');
    assert.deepEqual((await json<{ vars: unknown[] }>('env', 'list', 'ops', '--json')).vars, [], 'v1 ran with no env vars');
    const bad = await zectre('rollback', 'ops', 'dnotarelease1');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\(deployment_not_found\)\n$/);
    assert.equal((await zectre('rollback', 'nope')).code, 1);
  });

  test('rollback to the standby while it runs switches routing to it: no new task, the old version serves when the command returns', async () => {
    await ok('env', 'set', 'ops', 'HELLO_VERSION=3');
    await serves(/version 3/);
    // A rollout in flight (it never turns healthy) is superseded, or it would cut over on top of the rollback.
    const inFlight = JSON.parse((await ok('deploy', join(dir, 'hello'), '--project', 'ops', '--cmd', 'sleep 600', '--no-wait', '--json')).stdout) as Deployment;
    const { deployments } = await json<{ deployments: Deployment[] }>('deployments', 'list', 'ops', '--json');
    const live = deployments.find((d) => d.status === 'live')!;
    const standby = deployments.find((d) => d.status === 'standby')!; // the rollback to v1: version 1
    const runningIds = (d: Deployment) => d.tasks.filter((t) => t.desiredState === 'running').map((t) => t.id).sort();
    const standbyTasks = runningIds(standby);
    assert.equal(standbyTasks.length, 1);
    const known = new Set(deployments.flatMap((d) => d.tasks.map((t) => t.id)));
    let run: CliRun | undefined;
    let first = '';
    const started = Date.now();
    let tookMs = 0;
    const seen = await underLoad(async () => {
      run = await ok('rollback', 'ops');
      tookMs = Date.now() - started;
      const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
      first = `${res.statusCode} ${(await res.body.text()).trim()}`;
    });
    console.log(`# rollback to the standby: the command returned after ${tookMs} ms; the next request got: ${first}`);
    assert.match(run!.stdout, new RegExp(`switched routing to running release ${standby.id} \\(no new tasks\\)`), run!.stdout);
    assert.equal(first, '200 hello from zectre (version 1)', 'the proxy serves the old version as soon as the command returns');
    assertNoFailures(seen, 'rollback to the standby');
    const after = (await json<{ deployments: Deployment[] }>('deployments', 'list', 'ops', '--json')).deployments;
    const now = after.find((d) => d.status === 'live')!;
    assert.equal(now.id, standby.id);
    assert.deepEqual(runningIds(now), standbyTasks, 'the standby\'s own tasks serve');
    assert.deepEqual(after.flatMap((d) => d.tasks.map((t) => t.id)).filter((id) => !known.has(id)), [], 'no task was created');
    assert.equal(after.find((d) => d.id === live.id)!.status, 'standby', 'the release that was live is the standby now');
    assert.equal(runningIds(after.find((d) => d.id === live.id)!).length, 1, 'and keeps running');
    const superseded = after.find((d) => d.id === inFlight.id)!;
    assert.deepEqual([superseded.status, superseded.statusReason], ['superseded', `rolled back to ${standby.id} before this release went live`]);
    assert.deepEqual((await json<{ vars: unknown[] }>('env', 'list', 'ops', '--json')).vars, [], "the standby's env (none) is the project's again");
  });

  let extra: CreatedJoinToken;
  test('join-tokens create lets a second node join; nodes list --json shows both', async () => {
    extra = await json<CreatedJoinToken>('join-tokens', 'create', '--json');
    assert.match(extra.secret, /^zj_/);
    second = await startSecondAgent({ apiUrl: stack.apiUrl, joinToken: extra.secret, dir, name: 'second', portRange: ports.second, echo });
    const { nodes } = await json<{ nodes: NodeView[] }>('nodes', 'list', '--json');
    assert.deepEqual(nodes.map((n) => [n.name, n.status]), [['local', 'ready'], ['second', 'ready']]);
    const local = nodes[0]!;
    assert.ok(local.capacity.cpuMillis > 0 && local.allocated.cpuMillis > 0 && local.runningTasks > 0, JSON.stringify(local));
    assert.ok(Date.parse(local.lastHeartbeatAt) > Date.now() - 60_000);
    assert.match((await ok('nodes', 'list')).stdout, /NAME\s+ID\s+STATUS\s+ADDRESS\s+CAPACITY\s+ALLOCATED\s+LAST HEARTBEAT/);
  });

  test('scale up to 3 and down to 2: no failed request; the live deployment runs exactly that many healthy tasks', async () => {
    const up = await underLoad(() => ok('scale', 'ops', '3'));
    assertNoFailures(up, 'scale to 3');
    let live = (await json<{ liveDeployment: Deployment }>('status', 'ops', '--json')).liveDeployment;
    const running = () => live.tasks.filter((t) => t.desiredState === 'running');
    assert.equal(running().length, 3);
    assert.ok(running().every((t) => t.observedState === 'healthy'));
    assert.deepEqual([...new Set(running().map((t) => t.nodeName))].sort(), ['local', 'second']);
    const down = await underLoad(() => ok('scale', 'ops', '2', '--json'));
    assertNoFailures(down, 'scale to 2');
    live = (await json<{ liveDeployment: Deployment }>('status', 'ops', '--json')).liveDeployment;
    assert.equal(live.replicas, 2);
    assert.equal(running().length, 2);
    await serves(/version 1/);
    const bad = await zectre('scale', 'ops', '0');
    assert.equal(bad.code, 2);
  });

  test('scale --memory 200 starts a release of the live one with the new limit and the same count; no failed request', async () => {
    const before = (await json<{ liveDeployment: Deployment }>('status', 'ops', '--json')).liveDeployment;
    let run: CliRun | undefined;
    const seen = await underLoad(async () => (run = await ok('scale', 'ops', '--memory', '200')));
    assertNoFailures(seen, 'scale --memory 200');
    assert.match(run!.stdout, /starting release d\w+ with 200 MB per task, 2 task\(s\)/);
    assert.match(run!.stdout, /live at /);
    const live = (await json<{ liveDeployment: Deployment }>('status', 'ops', '--json')).liveDeployment;
    assert.notEqual(live.id, before.id);
    assert.deepEqual([live.artifact, live.command, live.replicas], [before.artifact, before.command, 2]);
    const running = live.tasks.filter((t) => t.desiredState === 'running');
    assert.equal(running.length, 2);
    // What the agents run them with (tasks/<id>/task.json, node-agent/task-record.ts).
    for (const t of running) {
      const stateDir = t.nodeName === 'local' ? join(dir, 'state', 'agent') : join(dir, t.nodeName);
      const record = JSON.parse(await readFile(join(stateDir, 'tasks', t.id, 'task.json'), 'utf8')) as { spec: { resources: unknown } };
      assert.deepEqual(record.spec.resources, { cpuMillis: 100, memoryMb: 200 });
    }
    await serves(/version 1/);
  });

  test('nodes drain moves every task off the node, health-gated, with no failed request', async () => {
    let run: CliRun | undefined;
    const seen = await underLoad(async () => (run = await ok('nodes', 'drain', 'local')));
    assertNoFailures(seen, 'drain');
    assert.match(run!.stdout, /local is drained/);
    const { nodes } = await json<{ nodes: NodeView[] }>('nodes', 'list', '--json');
    const local = nodes.find((n) => n.name === 'local')!;
    assert.equal(local.status, 'draining');
    assert.equal(local.runningTasks, 0);
    const live = (await json<{ liveDeployment: Deployment }>('status', 'ops', '--json')).liveDeployment;
    const running = live.tasks.filter((t) => t.desiredState === 'running');
    assert.equal(running.length, 2);
    assert.ok(running.every((t) => t.nodeName === 'second' && t.observedState === 'healthy'), JSON.stringify(running));
    await serves(/version 1/);
    assert.equal((await zectre('nodes', 'drain', 'no-such-node')).code, 1);
  });

  test('logs --since 10m --task ID --json shows only that task', async () => {
    const live = (await json<{ liveDeployment: Deployment }>('status', 'ops', '--json')).liveDeployment;
    const task = live.tasks.find((t) => t.desiredState === 'running')!;
    let lines: { taskId: string; line: string }[] = [];
    await eventually('a request in the task\'s logs', async () => {
      const run = await ok('logs', 'ops', '--since', '10m', '--task', task.id, '--json');
      lines = run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      return lines.some((l) => /GET \/ 200/.test(l.line));
    });
    assert.ok(lines.length > 0 && lines.every((l) => l.taskId === task.id), `lines: ${JSON.stringify(lines.slice(0, 5))}`);
    assert.ok(lines.some((l) => /GET \/ 200/.test(l.line)));
    assert.equal((await zectre('logs', 'ops', '--since', 'yesterday-ish')).code, 2);
  });

  test('a failing deploy exits 1 with the reason, the exit code and the last log lines', async () => {
    const run = await zectre('deploy', join(dir, 'hello'), '--project', 'ops', '--cmd', 'echo about to crash; exit 7', '--deadline', '5');
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /failed: not healthy before its deadline/);
    assert.match(run.stderr, /exit code 7/);
    assert.match(run.stderr, /last log lines:\n[\s\S]*about to crash/);
  });

  test('tokens create (global and project-scoped), list --json, revoke; a revoked token is refused', async () => {
    const global = await json<CreatedApiToken>('tokens', 'create', 'ci', '--json');
    const scoped = await json<CreatedApiToken>('tokens', 'create', 'ci-ops', '--project', 'ops', '--json');
    assert.equal(scoped.token.project, 'ops');
    const { tokens } = await json<{ tokens: ApiTokenView[] }>('tokens', 'list', '--json');
    assert.ok(tokens.some((t) => t.id === global.token.id) && tokens.some((t) => t.id === scoped.token.id));
    assert.doesNotMatch(JSON.stringify(tokens), /zt_/);
    const asScoped = { ...env, ZECTRE_API_URL: stack.apiUrl, ZECTRE_TOKEN: scoped.secret };
    const projects = await runCli(['projects', 'list', '--json'], asScoped);
    assert.deepEqual(JSON.parse(projects.stdout).projects.map((p: { name: string }) => p.name), ['ops']);
    assert.equal((await runCli(['tokens', 'list'], asScoped)).code, 3);
    const nodes = await runCli(['nodes', 'list'], asScoped);
    assert.equal(nodes.code, 3);
    assert.match(nodes.stderr, /^error: listing nodes needs an admin user's global token \(forbidden\)\n$/);
    assert.match((await ok('tokens', 'revoke', global.token.id)).stdout, /revoked/);
    const refused = await runCli(['whoami'], { ...env, ZECTRE_API_URL: stack.apiUrl, ZECTRE_TOKEN: global.secret });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /^error: invalid or revoked API token \(unauthorized\)\n$/);
    assert.equal((await zectre('tokens', 'revoke', 'knosuchtoken1')).code, 1);
  });

  test('projects delete asks for --yes off a terminal, then stops the tasks and removes the routes', async () => {
    const refused = await zectre('projects', 'delete', 'ops');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^error: This deletes project ops, stops its apps and removes its URLs\. Pass --yes to confirm \(stdin is not a terminal/);
    await ok('projects', 'delete', 'ops', '--yes');
    const list = await json<{ projects: { name: string }[] }>('projects', 'list', '--json');
    assert.ok(!list.projects.some((p) => p.name === 'ops'));
    await eventually('the proxy to answer 404 for the deleted project', async () => {
      const res = await request(`${stack.proxyUrl}/`, { headers: { host: host() } });
      await res.body.dump();
      return res.statusCode === 404;
    });
    let nodes: NodeView[] = [];
    await eventually('every node to run no task', async () => {
      nodes = (await json<{ nodes: NodeView[] }>('nodes', 'list', '--json')).nodes;
      return nodes.every((n) => n.runningTasks === 0);
    }, () => JSON.stringify(nodes));
    assert.equal((await zectre('projects', 'delete', 'ops', '--yes')).code, 1);
  });
});
