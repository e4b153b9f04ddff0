import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeArtifact, tempDir } from './test-support.js';
import { DEFAULT_UNPACK_LIMITS } from './unpack.js';
import { Workspace } from './workspace.js';

const isRoot = process.getuid?.() === 0;
const OWNER = { uid: 200_321, gid: 200_321 };
let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => (dir = await tempDir('workspace')));
after(() => dir.remove());

const open = (root: string, stateDir = join(dir.path, 'state'), isolating = isRoot) => Workspace.open(root, DEFAULT_UNPACK_LIMITS, { stateDir, isolating });

test('the work root is 0711 and neither inside the state directory nor around it', async () => {
  const ws = await open(join(dir.path, 'work'));
  assert.equal(statSync(ws.root).mode & 0o777, 0o711);
  await assert.rejects(open(join(dir.path, 'state', 'work')), /must not contain one another/);
  await assert.rejects(open(dir.path), /must not contain one another/);
});

test('a work root out of reach of task uids, or owned by someone else, is refused with the reason', async (t) => {
  const hidden = join(dir.path, 'hidden');
  await mkdir(hidden, { mode: 0o700 });
  await chmod(hidden, 0o700);
  await assert.rejects(open(join(hidden, 'work'), undefined, true), new RegExp(`out of reach of task uids: ${hidden} does not let others pass`));
  if (!isRoot) return t.skip('chown needs root');
  const foreign = join(dir.path, 'foreign');
  await mkdir(foreign);
  await chown(foreign, 12_345, 12_345); // e.g. planted in /tmp by another user before the agent started
  await assert.rejects(open(foreign), /must be a directory owned by the agent \(uid 0\); it is owned by uid 12345/);
});

test('install replaces a task directory whole, owned by the task uid; removing it never follows its links', async (t) => {
  const ws = await open(join(dir.path, 'work2'));
  const artifact = join(dir.path, 'app.tar.gz');
  await writeFile(artifact, await makeArtifact({ 'server.js': 'v1', 'lib/a.js': 'a' }));
  const owner = isRoot ? OWNER : undefined;
  await ws.install('t1', artifact, owner);
  const taskDir = ws.taskDir('t1');
  assert.equal(readFileSync(join(taskDir, 'server.js'), 'utf8'), 'v1');
  assert.equal(statSync(taskDir).mode & 0o777, 0o700);
  if (owner) assert.deepEqual([statSync(taskDir).uid, statSync(join(taskDir, 'lib/a.js')).uid], [owner.uid, owner.uid]);
  // What a task may leave behind: its own files and a link to something it must not get deleted.
  const outside = join(dir.path, 'precious');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep.txt'), 'keep');
  writeFileSync(join(taskDir, 'scratch.txt'), 'x');
  symlinkSync(outside, join(taskDir, 'link'));
  if (owner) for (const p of ['scratch.txt', 'link']) chownSync(join(taskDir, p), owner.uid, owner.gid);
  await ws.install('t1', artifact, owner); // e.g. the task starts again after an agent restart
  assert.deepEqual(readdirSync(taskDir).sort(), ['lib', 'server.js']);
  assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'keep');
  assert.deepEqual(readdirSync(ws.root), ['t1'], 'no staging or old directories left');
  await ws.remove('t1');
  assert.equal(existsSync(taskDir), false);
  assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'keep');
  if (!owner) t.skip('ownership needs root');
});

test('sweep removes directories of tasks the agent no longer knows, and keeps the others', async () => {
  const ws = await open(join(dir.path, 'work3'));
  const artifact = join(dir.path, 'app3.tar.gz');
  await writeFile(artifact, await makeArtifact({ 'a.txt': 'a' }));
  for (const id of ['keep', 'gone']) await ws.install(id, artifact, isRoot ? OWNER : undefined);
  mkdirSync(join(ws.root, '.unpack-gone-0000')); // an unpack the agent died in
  const logs: string[] = [];
  await ws.sweep(new Set(['keep']), (m) => logs.push(m));
  assert.deepEqual(readdirSync(ws.root), ['keep']);
  assert.deepEqual(logs, []);
});
