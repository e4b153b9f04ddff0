/** An agent restarted (SIGKILL, crash) under running tasks, on real processes: what the restored task set reports and does. */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { TaskSpec, type DesiredState, type ObservedState } from '../protocol/index.js';
import { TaskSet } from './task-set.js';
import { agentDirs, blobServer, freePort, makeArtifact, sha256, tempDir, waitFor } from './test-support.js';

/** Answers 200, or 500 while a file named "sick" exists in its directory. */
const SERVER = `const fs = require('node:fs');
require('node:http').createServer((q, s) => { s.statusCode = fs.existsSync('sick') ? 500 : 200; s.end(); }).listen(Number(process.env.PORT), '127.0.0.1');`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let blobs: Awaited<ReturnType<typeof blobServer>>;
let digest: string;
const sets: TaskSet[] = [];

before(async () => {
  dir = await tempDir('restore');
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

/** An agent's task set under `base` (the same base = the same node); `seen` collects every observed state change. */
async function taskSet(base: string, seen: [string, ObservedState][] = []): Promise<TaskSet> {
  const set: TaskSet = new TaskSet(
    {
      ...(await agentDirs(base, blobs.url(''))),
      addSpool: () => undefined,
      onLinesDropped: () => undefined,
      onChange: () => queueMicrotask(() => set.observed().forEach((t) => seen.push([t.id, t.state]))),
    },
    () => undefined,
    () => undefined,
  );
  sets.push(set);
  return set;
}

/** The agent dies (its tasks keep running); the next one starts on the same state. */
async function crash(set: TaskSet): Promise<void> {
  await set.release();
  sets.splice(sets.indexOf(set), 1);
}

async function spec(id: string, overrides: Partial<TaskSpec> = {}): Promise<TaskSpec> {
  return TaskSpec.parse({
    id, deploymentId: 'd1', project: 'demo', artifact: { digest, url: blobs.url('/app') }, command: 'node server.cjs', env: {},
    port: await freePort(), healthCheck: { path: '/', intervalMs: 300, timeoutMs: 500 }, resources: {}, killTimeoutMs: 500, ...overrides,
  });
}

const desired = (generation: number, tasks: TaskSpec[]): DesiredState => ({ nodeId: 'n1', generation, tasks });
const state = (set: TaskSet, id: string) => set.observed().find((t) => t.id === id);

test('a re-adopted task keeps its last health (healthy stays routable, unhealthy stays out) until a check says otherwise', { timeout: 30_000 }, async () => {
  const base = join(dir.path, 'health');
  const first = await taskSet(base);
  const specs = [await spec('fine'), await spec('ill')];
  first.apply(desired(1, specs));
  await waitFor('both healthy', () => specs.every((s) => state(first, s.id)?.state === 'healthy'));
  writeFileSync(join(base, 'work/ill/sick'), '');
  await waitFor('ill unhealthy', () => state(first, 'ill')?.state === 'unhealthy');
  const pid = state(first, 'fine')!.pid;
  await crash(first);

  const seen: [string, ObservedState][] = [];
  const second = await taskSet(base, seen);
  await second.restore();
  assert.equal(state(second, 'fine')?.pid, pid, 're-adopted');
  assert.equal(state(second, 'fine')?.state, 'healthy', 'reported healthy from the first heartbeat on');
  assert.equal(state(second, 'ill')?.state, 'unhealthy');
  rmSync(join(base, 'work/ill/sick'));
  await waitFor('a check turns ill healthy again', () => state(second, 'ill')?.state === 'healthy');
  assert.deepEqual(seen.filter(([id, s]) => id === 'fine' && s !== 'healthy'), [], 'fine never left healthy');
  // A check still counts: the re-adopted healthy task turns unhealthy when its app does.
  writeFileSync(join(base, 'work/fine/sick'), '');
  await waitFor('fine unhealthy after failed checks', () => state(second, 'fine')?.state === 'unhealthy');
});

test('after an agent restart (here: one that stopped its tasks on exit) a task starts from the directory unpacked for it, without unpacking again', { timeout: 30_000 }, async () => {
  const base = join(dir.path, 'reuse');
  // The app leaves a file behind on its first run: still there on the second run = the same directory.
  const reuse = await spec('reuse', { command: `node -e "require('fs').writeFileSync('ran-' + process.pid, '')" && node server.cjs` });
  const first = await taskSet(base);
  first.apply(desired(1, [reuse]));
  const pid = (await waitFor('healthy', () => state(first, 'reuse')?.state === 'healthy' && state(first, 'reuse')))!.pid;
  const ranBefore = readdirSync(join(base, 'work/reuse')).filter((f) => f.startsWith('ran-'));
  await first.stopAll();
  sets.splice(sets.indexOf(first), 1);

  const second = await taskSet(base);
  await second.restore();
  second.apply(desired(1, [reuse])); // the env comes with the desired state
  await waitFor('healthy again', () => state(second, 'reuse')?.state === 'healthy' && state(second, 'reuse')?.pid !== pid);
  const ran = readdirSync(join(base, 'work/reuse')).filter((f) => f.startsWith('ran-'));
  assert.equal(ranBefore.length, 1);
  assert.ok(ranBefore.every((f) => ran.includes(f)) && ran.length === 2, `files of both runs in one directory: ${ran.join(', ')}`);
});
