import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { Parser } from 'tar';
import { packDir } from './pack.js';

const scratch = await mkdtemp(join(tmpdir(), 'zectre-pack-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Writes the same app tree; `order` changes creation order so readdir order may differ. */
async function makeTree(name: string, order: 'forward' | 'reverse'): Promise<string> {
  const root = join(scratch, name);
  const files: [string, string][] = [
    ['server.js', 'console.log("hi")\n'],
    ['package.json', '{"name":"app"}\n'],
    ['lib/a.js', 'a\n'],
    ['lib/b.js', 'b\n'],
    ['.git/HEAD', 'ref: refs/heads/main\n'],
    ['.zectre/state.json', '{}\n'],
    ['lib/.git/config', 'nested\n'],
  ];
  if (order === 'reverse') files.reverse();
  for (const [path, content] of files) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

async function entryNames(data: Buffer): Promise<string[]> {
  const names: string[] = [];
  const parser = new Parser({ onReadEntry: (entry) => { names.push(entry.path); entry.resume(); } });
  await pipeline(Readable.from([data]), parser);
  return names;
}

test('the same tree packs to the same bytes, whatever the mtimes and creation order', async () => {
  const a = await makeTree('a', 'forward');
  const b = await makeTree('b', 'reverse');
  await utimes(join(b, 'server.js'), new Date('2021-05-05'), new Date('2021-05-05'));
  const first = await packDir(a);
  const again = await packDir(a);
  const other = await packDir(b);
  assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(first.size, first.data.length);
  assert.equal(again.digest, first.digest);
  assert.equal(other.digest, first.digest);
});

test('a content change changes the digest', async () => {
  const a = await makeTree('c', 'forward');
  const before = await packDir(a);
  await writeFile(join(a, 'server.js'), 'console.log("changed")\n');
  assert.notEqual((await packDir(a)).digest, before.digest);
});

test('.git and .zectre are left out, at any depth; the rest is sorted', async () => {
  const { data } = await packDir(await makeTree('d', 'forward'));
  assert.deepEqual(await entryNames(data), ['lib/', 'lib/a.js', 'lib/b.js', 'package.json', 'server.js']);
});

test('an empty directory is an error', async () => {
  const empty = join(scratch, 'empty');
  await mkdir(empty);
  await assert.rejects(packDir(empty), /nothing to deploy/);
});

test('.zectreignore leaves out names at any depth, anchored paths, directories and globs', async () => {
  const root = join(scratch, 'ignored');
  const files = ['server.js', 'app.log', 'lib/debug.log', 'cache/x', 'lib/cache/y', 'docs/a.md', 'lib/docs/b.md', 'build/out.js', 'build.js', 'test/a/b/c.test.js'];
  for (const path of files) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), 'x\n');
  }
  await writeFile(join(root, '.zectreignore'), '# build leftovers\n*.log\n/docs\ncache/\nbuild/\ntest/**/*.test.js\n\n');
  const { data } = await packDir(root);
  assert.deepEqual(await entryNames(data), [
    '.zectreignore', 'build.js', 'lib/', 'lib/docs/', 'lib/docs/b.md', 'server.js', 'test/', 'test/a/', 'test/a/b/',
  ]);
});

test('.zectreignore refuses negation rather than ship what it seemed to leave out', async () => {
  const root = join(scratch, 'negated');
  await mkdir(root);
  await writeFile(join(root, 'server.js'), 'x\n');
  await writeFile(join(root, '.zectreignore'), '*.js\n!server.js\n');
  await assert.rejects(packDir(root), /negation \(!\) is not supported/);
});
