import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeTokenFile } from './identity-tokens.js';
import { tempDir } from './test-support.js';

const isRoot = process.getuid?.() === 0;
let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => (dir = await tempDir('identity-tokens')));
after(() => dir.remove());

test('the token file is replaced whole, 0400, and no temporary file is left behind', async () => {
  const task = join(dir.path, 'plain');
  mkdirSync(task);
  const file = join(task, '.zectre-identity-token');
  await writeTokenFile(file, 'first.token.x', undefined);
  await writeTokenFile(file, 'second.token.y', undefined);
  assert.equal(readFileSync(file, 'utf8'), 'second.token.y');
  assert.equal(statSync(file).mode & 0o777, 0o400);
  assert.deepEqual(readdirSync(task), ['.zectre-identity-token']);
});

test("a root agent hands the file to the task's uid; a link the task placed at its name is replaced, not followed", async (t) => {
  if (!isRoot) return t.skip('chown needs root');
  const task = join(dir.path, 'owned');
  mkdirSync(task);
  const victim = join(dir.path, 'victim');
  writeFileSync(victim, 'root-owned content');
  const file = join(task, '.zectre-identity-token');
  symlinkSync(victim, file);
  await writeTokenFile(file, 'a.b.c', { uid: 200_777, gid: 200_777 });
  assert.equal(readFileSync(victim, 'utf8'), 'root-owned content');
  assert.ok(!lstatSync(file).isSymbolicLink());
  const s = statSync(file);
  assert.deepEqual([s.uid, s.gid, s.mode & 0o777], [200_777, 200_777, 0o400]);
});
