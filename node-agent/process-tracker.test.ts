/** Escaped processes on real processes: an app forks 50 children, 5 of them in new sessions (setsid); a stop or crash leaves none. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TaskSpec } from '../protocol/index.js';
import { ProcessTracker, type TrackerKind } from './process-tracker.js';
import { TaskSet } from './task-set.js';
import { agentDirs, blobServer, freePort, makeArtifact, sha256, tempDir, waitFor } from './test-support.js';

/** Forks 45 children in its group and 5 that call setsid (detached), each `sleep <SECONDS>`; /exit crashes it. */
const FORKER = `const { spawn } = require('node:child_process');
const seconds = process.argv[2];
for (let i = 0; i < 50; i++) spawn('sleep', [seconds], { detached: i < 5, stdio: 'ignore' }).unref();
require('node:http').createServer((q, s) => { if (q.url === '/exit') process.exit(1); s.end('ok'); }).listen(Number(process.env.PORT), '127.0.0.1');`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let blobs: Awaited<ReturnType<typeof blobServer>>;
let digest: string;

before(async () => {
  dir = await tempDir('tracker');
  blobs = await blobServer();
  const artifact = await makeArtifact({ 'forker.cjs': FORKER });
  digest = sha256(artifact);
  blobs.put('/app', artifact);
});
after(async () => {
  await blobs.close();
  await dir.remove();
});

/** Live `sleep <seconds>` processes: the children of one test's app (a duration no one else uses). */
function sleepers(seconds: number): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z' && readFileSync(`/proc/${pid}/cmdline`, 'latin1') === `sleep\0${seconds}\0`;
    } catch {
      return false;
    }
  }).map(Number);
}

const available = (kind: TrackerKind) => {
  try {
    ProcessTracker.open(join(dir.path, 'probe'), { only: kind }).dispose();
    return true;
  } catch {
    return false;
  }
};

for (const kind of ['cgroup2', 'freezer', 'proc'] as const) {
  test(`${kind}: after a crash and after a stop, none of 50 forked children (5 in new sessions) is left`, { timeout: 180_000 }, async (t) => {
    if (kind !== 'proc' && !available(kind)) return t.skip(`no writable ${kind} hierarchy on this machine`);
    const base = join(dir.path, kind);
    const deps = await agentDirs(base, blobs.url(''));
    const tracker = ProcessTracker.open(deps.stateDir, { only: kind });
    const set = new TaskSet({ ...deps, tracker, addSpool: () => undefined, onLinesDropped: () => undefined, onChange: () => undefined }, () => undefined, () => undefined);
    const seconds = 3_000_000 + Math.floor(Math.random() * 1_000_000);
    const port = await freePort();
    const spec = TaskSpec.parse({
      id: `forker-${kind}`, deploymentId: 'd1', project: 'demo', artifact: { digest, url: blobs.url('/app') }, command: `node forker.cjs ${seconds}`,
      env: {}, port, healthCheck: { path: '/', intervalMs: 300, timeoutMs: 500 }, resources: {}, killTimeoutMs: 500,
    });
    try {
      set.apply({ nodeId: 'n1', generation: 1, tasks: [spec] });
      await waitFor('50 children and the app listening', () => sleepers(seconds).length === 50 && set.observed()[0]?.state === 'healthy', 60_000);
      const first = sleepers(seconds);
      await fetch(`http://127.0.0.1:${port}/exit`).catch(() => undefined);
      await waitFor('restarted with 50 new children', () => sleepers(seconds).length === 50 && !sleepers(seconds).some((p) => first.includes(p)), 60_000);
      set.apply({ nodeId: 'n1', generation: 2, tasks: [] });
      await waitFor('the task stopped', () => set.observed().length === 0 && tracker.members(spec.id).length === 0, 60_000);
      assert.deepEqual(sleepers(seconds), [], 'no child outlives the stop');
    } finally {
      await set.stopAll();
      for (const pid of sleepers(seconds)) process.kill(pid, 'SIGKILL');
      tracker.dispose();
    }
  });
}
