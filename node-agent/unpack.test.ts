import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { craftArchive, makeArtifact, tempDir } from './test-support.js';
import { UnpackError, unpack } from './unpack.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => (dir = await tempDir('unpack')));
after(() => dir.remove());

/** Unpacks into dir/<name>/app and returns that path; the archive sits in dir/<name>.tar.gz. */
async function unpackInto(name: string, archive: Buffer): Promise<string> {
  const file = join(dir.path, `${name}.tar.gz`);
  await writeFile(file, archive);
  const dest = join(dir.path, name, 'app');
  await unpack(file, dest);
  return dest;
}

test('unpacks a normal artifact', { timeout: 10_000 }, async () => {
  const dest = await unpackInto('ok', await makeArtifact({ 'server.js': 'hi', 'lib/a.js': 'a' }));
  assert.equal(await readFile(join(dest, 'server.js'), 'utf8'), 'hi');
  assert.equal(await readFile(join(dest, 'lib/a.js'), 'utf8'), 'a');
});

test('refuses an entry with ../ and writes nothing', { timeout: 10_000 }, async () => {
  const archive = craftArchive([
    { path: 'fine.txt', type: 'File', body: 'fine' },
    { path: '../escaped.txt', type: 'File', body: 'evil' },
  ]);
  await assert.rejects(unpackInto('dotdot', archive), (err: Error) => {
    assert.ok(err instanceof UnpackError);
    assert.match(err.message, /"\.\.\/escaped\.txt" points outside the app directory/);
    return true;
  });
  assert.equal(existsSync(join(dir.path, 'dotdot', 'escaped.txt')), false);
  assert.equal(existsSync(join(dir.path, 'escaped.txt')), false);
  assert.equal(existsSync(join(dir.path, 'dotdot', 'app')), false, 'nothing extracted, not even the safe entry');
});

test('refuses an absolute path', { timeout: 10_000 }, async () => {
  const archive = craftArchive([{ path: '/tmp/zectre-absolute-escape.txt', type: 'File', body: 'evil' }]);
  await assert.rejects(unpackInto('absolute', archive), /absolute path or "\.\."/);
  assert.equal(existsSync('/tmp/zectre-absolute-escape.txt'), false);
});

test('refuses a symlink pointing outside, and a file written through it', { timeout: 10_000 }, async () => {
  const archive = craftArchive([
    { path: 'link', type: 'SymbolicLink', linkpath: '../../' },
    { path: 'link/escaped.txt', type: 'File', body: 'evil' },
  ]);
  await assert.rejects(unpackInto('symlink', archive), /link "link" -> "\.\.\/\.\.\/" points outside the app directory/);
  assert.deepEqual(await readdir(dir.path).then((names) => names.filter((n) => n.includes('escaped'))), []);
  assert.equal(existsSync(join(dir.path, 'symlink', 'app')), false);
});

test('refuses absolute symlink targets and escaping hard links', { timeout: 10_000 }, async () => {
  await assert.rejects(unpackInto('abslink', craftArchive([{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }])), /absolute target/);
  await assert.rejects(
    unpackInto('hardlink', craftArchive([{ path: 'pw', type: 'Link', linkpath: '../../etc/passwd' }])),
    /link "pw" -> "\.\.\/\.\.\/etc\/passwd" points outside/,
  );
});

test('allows a symlink that stays inside', { timeout: 10_000 }, async () => {
  const dest = await unpackInto('inside', craftArchive([
    { path: 'lib/real.txt', type: 'File', body: 'real' },
    { path: 'lib/alias.txt', type: 'SymbolicLink', linkpath: './real.txt' },
    { path: 'top.txt', type: 'SymbolicLink', linkpath: 'lib/../lib/real.txt' },
  ]));
  assert.equal(await readFile(join(dest, 'lib/alias.txt'), 'utf8'), 'real');
  assert.equal(await readFile(join(dest, 'top.txt'), 'utf8'), 'real');
});

test('refuses ".." through a symlink that points at the app directory itself', { timeout: 10_000 }, async () => {
  const archive = craftArchive([
    { path: 'self', type: 'SymbolicLink', linkpath: '.' },
    { path: 'up', type: 'SymbolicLink', linkpath: 'self/..' },
  ]);
  await assert.rejects(unpackInto('chain', archive), /uses "\.\." after the symlink "self"/);
});
