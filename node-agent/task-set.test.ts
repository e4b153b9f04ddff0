/** TaskSet on real processes: generations, restart policy, re-adoption after an agent restart, memory watchdog, artifact GC. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { TaskSpec, type DesiredState } from '../protocol/index.js';
import type { LogSpool } from './log-spool.js';
import { groupMembers } from './process-group.js';
import { TaskSet } from './task-set.js';
import { agentDirs, blobServer, freePort, makeArtifact, sha256, tempDir, waitFor } from './test-support.js';

/** Answers 200, or 500 while a file named "sick" exists in its directory. */
const SERVER = `const fs = require('node:fs');
require('node:http').createServer((q, s) => { s.statusCode = fs.existsSync('sick') ? 500 : 200; s.end(); }).listen(Number(process.env.PORT), '127.0.0.1');`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let blobs: Awaited<ReturnType<typeof blobServer>>;
let digest: string;
const sets: TaskSet[] = [];
const spools: LogSpool[] = [];

before(async () => {
  dir = await tempDir('taskset');
  blobs = await blobServer();
  const artifact = await makeArtifact({ 'server.cjs': SERVER });
  digest = sha256(artifact);
  blobs.put('/app', artifact);
});
afterEach(async () => {
  await Promise.all(sets.splice(0).map((s) => s.stopAll()));
});
after(async () => {
  await blobs.close();
  await dir.remove();
});

/** A task set (an agent's) whose state and work directories live under `base`; the same base = the same node. */
async function taskSet(base: string): Promise<TaskSet> {
  const set = new TaskSet(
    { ...(await agentDirs(base, blobs.url(''))), addSpool: (spool) => spools.push(spool), onLinesDropped: () => undefined, onChange: () => undefined },
    () => undefined,
    () => undefined,
  );
  sets.push(set);
  return set;
}

async function spec(id: string, overrides: Partial<TaskSpec> = {}): Promise<TaskSpec> {
  return TaskSpec.parse({
    id,
    deploymentId: 'd1',
    project: 'demo',
    artifact: { digest, url: blobs.url('/app') },
    command: 'node server.cjs',
    env: {},
    port: await freePort(),
    healthCheck: { path: '/', intervalMs: 500, timeoutMs: 500 },
    resources: {},
    killTimeoutMs: 500,
    ...overrides,
  });
}

const desired = (generation: number, tasks: TaskSpec[]): DesiredState => ({ nodeId: 'n1', generation, tasks });
const state = (set: TaskSet, id: string) => set.observed().find((t) => t.id === id);
const linesOf = (id: string, stream = 'system') =>
  spools.filter((s) => s.taskId === id).flatMap((s) => (s.poll(), s.pending(10_000))).filter((e) => e.stream === stream).map((e) => e.line);

test('only newer generations apply; a task in both old and new generation keeps running untouched', { timeout: 20_000 }, async () => {
  const set = await taskSet(join(dir.path, 'gen'));
  const a = await spec('ga');
  set.apply(desired(2, [a]));
  const pid = (await waitFor('healthy', () => state(set, 'ga')?.state === 'healthy' && state(set, 'ga')))!.pid!;
  assert.equal(set.apply(desired(1, [])), 2, 'an older generation (a late poll) is ignored');
  set.apply(desired(3, [a, await spec('gb')]));
  await waitFor('gb healthy', () => state(set, 'gb')?.state === 'healthy');
  assert.equal(state(set, 'ga')?.pid, pid, 'unchanged task not restarted');
  set.apply(desired(4, []));
  await waitFor('ga group gone', () => groupMembers(pid).length === 0);
  assert.equal(state(set, 'ga'), undefined);
});

test('health checks drive healthy -> unhealthy after three failures, and back to healthy', { timeout: 20_000 }, async () => {
  const base = join(dir.path, 'health');
  const set = await taskSet(base);
  set.apply(desired(1, [await spec('hc')]));
  const pid = (await waitFor('healthy', () => state(set, 'hc')?.state === 'healthy' && state(set, 'hc')))!.pid;
  const sick = join(base, 'work/hc/sick');
  writeFileSync(sick, '');
  await waitFor('unhealthy', () => state(set, 'hc')?.state === 'unhealthy', 10_000);
  rmSync(sick);
  await waitFor('healthy again', () => state(set, 'hc')?.state === 'healthy', 10_000);
  assert.equal(state(set, 'hc')?.pid, pid, 'an unhealthy task is reported, not restarted');
});

test('restart policy: on-failure leaves a clean exit alone and restarts a failure; never restarts nothing', { timeout: 20_000 }, async () => {
  const set = await taskSet(join(dir.path, 'policy'));
  set.apply(desired(1, [
    await spec('pclean', { command: 'node -e "process.exit(0)"', restartPolicy: 'on-failure' }),
    await spec('pfail', { command: 'node -e "process.exit(3)"', restartPolicy: 'on-failure' }),
    await spec('pnever', { command: 'node -e "process.exit(3)"', restartPolicy: 'never' }),
  ]));
  await waitFor('pfail restarted', () => (state(set, 'pfail')?.restarts ?? 0) >= 1, 10_000);
  for (const id of ['pclean', 'pnever']) {
    assert.equal(state(set, id)?.state, 'exited');
    assert.equal(state(set, id)?.restarts, 0);
    assert.ok(linesOf(id).some((l) => /^not restarting \(restart policy (on-failure|never)\)$/.test(l)), linesOf(id).join('\n'));
  }
  assert.equal(state(set, 'pnever')?.exitCode, 3);
});

test('a restarted agent re-adopts a live task by pid + start time, and replaces one whose start time differs once its env is back', { timeout: 20_000 }, async () => {
  const base = join(dir.path, 'adopt');
  const first = await taskSet(base);
  const specs = [await spec('alive'), await spec('recycled', { command: 'node -e "setInterval(() => {}, 1000)"' })];
  first.apply(desired(1, specs));
  const alive = (await waitFor('healthy', () => state(first, 'alive')?.state === 'healthy' && state(first, 'alive')))!.pid!;
  const recycled = (await waitFor('recycled running', () => state(first, 'recycled')?.pid))!;
  await first.release(); // the agent dies; its tasks keep running
  sets.splice(sets.indexOf(first), 1);
  // Pretend "recycled"'s pid now belongs to another process: same pid, another start time.
  const record = join(base, 'state/tasks/recycled/task.json');
  const saved = JSON.parse(readFileSync(record, 'utf8'));
  writeFileSync(record, JSON.stringify({ ...saved, startTime: saved.startTime + 1 }));

  const second = await taskSet(base);
  await second.restore();
  assert.equal(second.appliedGeneration, 0, 'generation 0: the next heartbeat brings the desired state, and with it the env');
  assert.equal(state(second, 'alive')?.pid, alive, 're-adopted the same process');
  await waitFor('adopted task healthy', () => state(second, 'alive')?.state === 'healthy');
  await waitFor('the replacement waiting for its env', () => /waiting for its environment/.test(state(second, 'recycled')?.message ?? ''));
  assert.equal(state(second, 'recycled')?.pid, undefined);
  second.apply(desired(1, specs));
  const replacement = await waitFor('replacement started', () => state(second, 'recycled')?.pid);
  assert.equal(state(second, 'alive')?.pid, alive, 'the desired state does not restart the adopted task');
  assert.notEqual(replacement, recycled, 'a pid with another start time is never taken for the task');
  process.kill(-recycled, 'SIGKILL'); // "someone else's" process: the agent left it alone, the test cleans it up
  await second.stopAll();
  assert.deepEqual(groupMembers(alive), [], 'stopping an adopted task kills its group');
});

test('without cgroups the memory watchdog kills a task over its memory limit', { timeout: 20_000 }, async () => {
  const set = await taskSet(join(dir.path, 'mem'));
  set.apply(desired(1, [await spec('hog', { resources: { cpuMillis: 100, memoryMb: 16 }, restartPolicy: 'never' })]));
  await waitFor('killed', () => state(set, 'hog')?.state === 'exited', 10_000);
  assert.ok(linesOf('hog').some((l) => /^killing pid \d+: memory \d+ MB exceeds the limit of 16 MB$/.test(l)), linesOf('hog').join('\n'));
  assert.match(state(set, 'hog')?.message ?? '', /^killed: memory \d+ MB over its 16 MB limit$/);
});

test('artifacts no task uses any more are removed from the cache', { timeout: 20_000 }, async () => {
  const stateDir = join(dir.path, 'gc', 'state');
  const set = await taskSet(join(dir.path, 'gc'));
  set.apply(desired(1, [await spec('gc1')]));
  await waitFor('healthy', () => state(set, 'gc1')?.state === 'healthy');
  const unused = join(stateDir, 'artifacts', `${'0'.repeat(64)}.tar.gz`);
  writeFileSync(unused, 'old');
  set.apply(desired(2, [await spec('gc1')]));
  await waitFor('unused artifact removed', () => !existsSync(unused));
  assert.ok(existsSync(join(stateDir, 'artifacts', `${digest.slice(7)}.tar.gz`)), 'the artifact in use stays');
});

test('env values never reach the disk; after a restart raw output is spooled, redacted, only once they are back', { timeout: 20_000 }, async () => {
  const base = join(dir.path, 'noenv');
  const secret = 'sekrit-value-4711';
  const talker = await spec('talker', {
    command: `node -e "setInterval(() => console.log('the secret is ' + process.env.API_SECRET), 100)"`,
    env: { API_SECRET: secret },
  });
  const first = await taskSet(base);
  first.apply(desired(1, [talker]));
  await waitFor('a redacted line', () => linesOf('talker', 'stdout').includes('the secret is [redacted]'));
  const record = join(base, 'state/tasks/talker/task.json');
  assert.ok(!readFileSync(record, 'utf8').includes(secret), 'task.json holds no env value');
  assert.equal(JSON.parse(readFileSync(record, 'utf8')).spec.env, undefined);
  await first.release();
  sets.splice(sets.indexOf(first), 1);
  spools.splice(0);

  const second = await taskSet(base);
  await second.restore();
  await waitFor('still running', () => state(second, 'talker')?.pid);
  const recovered = linesOf('talker', 'stdout').length; // unshipped lines from the spool, already redacted
  const raw = join(base, 'state/tasks/talker/logs/stdout.raw');
  const size = statSync(raw).size;
  await waitFor('more raw output', () => statSync(raw).size > size);
  assert.equal(linesOf('talker', 'stdout').length, recovered, 'no raw output read while it cannot be redacted');
  second.apply(desired(1, [talker]));
  await waitFor('redacted lines again', () => linesOf('talker', 'stdout').includes('the secret is [redacted]'));
  assert.ok(!linesOf('talker', 'stdout').some((l) => l.includes(secret)));
});

test('tasks get PYTHONUNBUFFERED=1, so Python output reaches the logs while the app runs; the app env may override it', { timeout: 20_000 }, async () => {
  const set = await taskSet(join(dir.path, 'python'));
  set.apply(desired(1, [
    await spec('py', { command: `/usr/bin/python3 -c "import time; print('ready'); time.sleep(600)"` }),
    await spec('pyoff', { command: `node -e "console.log('unbuffered=' + process.env.PYTHONUNBUFFERED); setInterval(() => {}, 1000)"`, env: { PYTHONUNBUFFERED: '' } }),
  ]));
  await waitFor('the line of the running Python app', () => linesOf('py', 'stdout').includes('ready'), 15_000);
  await waitFor('the override', () => linesOf('pyoff', 'stdout').includes('unbuffered='), 15_000);
});
