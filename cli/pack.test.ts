import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { Parser, type ReadEntry } from 'tar';
import { DEFAULT_UNPACK_LIMITS, unpack } from '../node-agent/unpack.js';
import { packDir } from './pack.js';

const scratch = await mkdtemp(join(tmpdir(), 'zectre-pack-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** A fixed, whole-second time for every file, so two trees made at different moments are the same tree. */
const WHEN = new Date('2024-03-01T12:00:00Z');

async function write(root: string, files: Record<string, string>, mtime: Date | null = WHEN): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
    if (mtime) await utimes(join(root, path), mtime, mtime);
  }
  return root;
}

/** Writes the same app tree; `order` changes creation order so readdir order may differ. */
async function makeTree(name: string, order: 'forward' | 'reverse'): Promise<string> {
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
  return write(join(scratch, name), Object.fromEntries(files));
}

interface Listed {
  path: string;
  mode: number | undefined;
  mtime: Date | undefined;
  uid: number | undefined;
  uname: string | undefined;
}

async function listing(data: Buffer): Promise<Listed[]> {
  const out: Listed[] = [];
  const parser = new Parser({
    onReadEntry: (e: ReadEntry) => {
      out.push({ path: e.path, mode: e.mode, mtime: e.mtime, uid: e.uid, uname: e.uname });
      e.resume();
    },
  });
  await pipeline(Readable.from([data]), parser);
  return out;
}
const entryNames = async (data: Buffer) => (await listing(data)).map((e) => e.path);

test('the same tree packs to the same bytes, whatever the creation order, umask and time of packing', async () => {
  const a = await makeTree('a', 'forward');
  const b = await makeTree('b', 'reverse');
  // Another checkout of the same tree: group-writable files (umask 002), a private one.
  await chmod(join(b, 'server.js'), 0o664);
  await chmod(join(b, 'lib/a.js'), 0o600);
  await chmod(join(b, 'lib'), 0o775);
  const first = await packDir(a);
  const again = await packDir(a);
  const other = await packDir(b);
  assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(first.size, first.data.length);
  assert.equal(again.digest, first.digest);
  assert.equal(other.digest, first.digest);
  // gzip header: no time (bytes 4-7), OS fixed to Unix (byte 9).
  assert.deepEqual([...first.data.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, first.data[8], 3]);
  for (const e of await listing(first.data)) {
    assert.equal(e.uid, undefined, `${e.path} has no uid`);
    assert.ok(!e.uname, `${e.path} has no user name`);
    assert.ok(e.mode === 0o644 || e.mode === 0o755, `${e.path} mode ${e.mode?.toString(8)}`);
  }
});

test('files keep their real modification time (to the second): touching one changes the digest', async () => {
  const a = await makeTree('touched', 'forward');
  const before = await packDir(a);
  const times = new Map((await listing(before.data)).map((e) => [e.path, e.mtime?.getTime()]));
  assert.equal(times.get('server.js'), WHEN.getTime());
  assert.equal(times.get('lib/'), undefined, 'directories carry no time: an ignored file appearing in one would change it');

  const later = new Date(WHEN.getTime() + 60_000);
  await utimes(join(a, 'server.js'), later, later);
  const touched = await packDir(a);
  assert.notEqual(touched.digest, before.digest);
  const entry = (await listing(touched.data)).find((e) => e.path === 'server.js');
  assert.equal(entry?.mtime?.getTime(), later.getTime());

  // Below a second: the same archive (headers hold seconds, HTTP dates too).
  const sameSecond = new Date(later.getTime() + 400);
  await utimes(join(a, 'server.js'), sameSecond, sameSecond);
  assert.equal((await packDir(a)).digest, touched.digest);
});

test('the agent unpacks files with the mtime they had on the developer machine, and their modes', async () => {
  const src = await write(join(scratch, 'roundtrip'), { 'server.js': 'x\n', 'public/index.html': '<p>hi</p>\n', 'bin/run': '#!/bin/sh\n' });
  const old = new Date('2023-07-04T10:20:30Z');
  await utimes(join(src, 'public/index.html'), old, old);
  await chmod(join(src, 'bin/run'), 0o700);
  const packed = await packDir(src);
  const archive = join(scratch, 'roundtrip.tar.gz');
  await writeFile(archive, packed.data);
  const dest = join(scratch, 'roundtrip-out', 'app');
  await unpack(archive, dest, { limits: DEFAULT_UNPACK_LIMITS });
  assert.equal((await stat(join(dest, 'public/index.html'))).mtime.getTime(), old.getTime());
  assert.equal((await stat(join(dest, 'server.js'))).mtime.getTime(), WHEN.getTime());
  assert.equal((await stat(join(dest, 'bin/run'))).mode & 0o777, 0o755);
  assert.equal((await stat(join(dest, 'server.js'))).mode & 0o777, 0o644);
});

test('a content change changes the digest', async () => {
  const a = await makeTree('c', 'forward');
  const before = await packDir(a);
  await write(a, { 'server.js': 'console.log("changed")\n' });
  assert.notEqual((await packDir(a)).digest, before.digest);
});

test('.git and .zectre are left out, at any depth; the rest is sorted', async () => {
  const { data } = await packDir(await makeTree('d', 'forward'));
  assert.deepEqual(await entryNames(data), ['lib/', 'lib/a.js', 'lib/b.js', 'package.json', 'server.js']);
});

test('.env and .env.* files are never packed, at any depth, whatever the ignore files say', async () => {
  const root = await write(join(scratch, 'dotenv'), {
    'server.js': 'x\n', '.env': 'SECRET=1\n', '.env.local': 'SECRET=2\n', 'api/.env.production': 'SECRET=3\n',
    'environment.js': 'x\n', 'api/.envoy.yaml': 'x\n', '.zectreignore': '!.env\n!.env.local\n',
  });
  assert.deepEqual(await entryNames((await packDir(root)).data), ['.zectreignore', 'api/', 'api/.envoy.yaml', 'environment.js', 'server.js']);
  assert.deepEqual(await entryNames((await packDir(root, { source: true })).data), ['.zectreignore', 'api/', 'api/.envoy.yaml', 'environment.js', 'server.js']);
});

test('an empty directory is an error', async () => {
  const empty = join(scratch, 'empty');
  await mkdir(empty);
  await assert.rejects(packDir(empty), /nothing to deploy/);
});

test('.zectreignore leaves out names at any depth, anchored paths, directories and globs', async () => {
  const files = ['server.js', 'app.log', 'lib/debug.log', 'cache/x', 'lib/cache/y', 'docs/a.md', 'lib/docs/b.md', 'build/out.js', 'build.js', 'test/a/b/c.test.js'];
  const root = await write(join(scratch, 'ignored'), Object.fromEntries(files.map((f) => [f, 'x\n'])));
  await writeFile(join(root, '.zectreignore'), '# build leftovers\n*.log\n/docs\ncache/\nbuild/\ntest/**/*.test.js\n\n');
  const { data } = await packDir(root);
  assert.deepEqual(await entryNames(data), [
    '.zectreignore', 'build.js', 'lib/', 'lib/docs/', 'lib/docs/b.md', 'server.js', 'test/', 'test/a/', 'test/a/b/',
  ]);
});

test('.zectreignore negation takes a file back; a nested .zectreignore applies under its directory', async () => {
  const root = await write(join(scratch, 'negated'), { 'server.js': 'x\n', 'a.js': 'x\n', 'keep.log': 'x\n', 'drop.log': 'x\n', 'sub/x.txt': 'x\n', 'sub/y.txt': 'x\n', 'x.txt': 'x\n' });
  await writeFile(join(root, '.zectreignore'), '*.log\n!keep.log\n');
  await writeFile(join(root, 'sub/.zectreignore'), 'x.txt\n');
  assert.deepEqual(await entryNames((await packDir(root)).data), [
    '.zectreignore', 'a.js', 'keep.log', 'server.js', 'sub/', 'sub/.zectreignore', 'sub/y.txt', 'x.txt',
  ]);
});

test('source packing honours nested .gitignore files (negation, directory patterns) and leaves node_modules out', async () => {
  const root = await write(join(scratch, 'source'), {
    'package.json': '{}\n', 'package-lock.json': '{}\n', 'src/index.ts': 'x\n',
    'node_modules/express/index.js': 'x\n', 'packages/ui/node_modules/react/index.js': 'x\n', 'packages/ui/index.ts': 'x\n',
    'dist/index.js': 'x\n', 'coverage/lcov.info': 'x\n', 'debug.log': 'x\n', 'important.log': 'x\n',
    'packages/ui/generated/a.ts': 'x\n', 'packages/ui/generated/keep.ts': 'x\n', 'src/dist': 'a file, not a directory\n',
  });
  await writeFile(join(root, '.gitignore'), 'node_modules/\ndist/\ncoverage\n*.log\n!important.log\n');
  await writeFile(join(root, 'packages/ui/.gitignore'), 'generated/*\n!generated/keep.ts\n');
  const source = await packDir(root, { source: true });
  assert.deepEqual(await entryNames(source.data), [
    '.gitignore', 'important.log', 'package-lock.json', 'package.json', 'packages/', 'packages/ui/', 'packages/ui/.gitignore',
    'packages/ui/generated/', 'packages/ui/generated/keep.ts', 'packages/ui/index.ts', 'src/', 'src/dist', 'src/index.ts',
  ]);

  // As-is (no remote build): the app runs from what is packed, so .gitignore (which lists node_modules, dist) does not apply.
  const asIs = await entryNames((await packDir(root)).data);
  for (const path of ['node_modules/express/index.js', 'packages/ui/node_modules/react/index.js', 'dist/index.js', 'packages/ui/generated/a.ts']) {
    assert.ok(asIs.includes(path), `${path} is packed as-is`);
  }

  // .zectreignore comes after .gitignore: it can take back a build output for a source upload too.
  await writeFile(join(root, '.zectreignore'), '!dist/\n');
  assert.ok((await entryNames((await packDir(root, { source: true })).data)).includes('dist/index.js'));
});

test('progress reports entries, bytes read and bytes packed as the archive grows', async () => {
  const root = await write(join(scratch, 'progress'), { 'a.txt': 'a'.repeat(10_000), 'b.txt': 'b'.repeat(5_000) });
  const seen: { entries: number; bytesRead: number; bytesPacked: number }[] = [];
  const packed = await packDir(root, { onProgress: (p) => seen.push({ ...p }) });
  const last = seen.at(-1)!;
  assert.deepEqual(last, { entries: 2, bytesRead: 15_000, bytesPacked: packed.size });
});
