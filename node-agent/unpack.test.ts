import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { craftArchive, makeArtifact, tempDir } from './test-support.js';
import { DEFAULT_UNPACK_LIMITS, extract, UnpackError, unpack, type UnpackOptions } from './unpack.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => (dir = await tempDir('unpack')));
after(() => dir.remove());

/** Unpacks into dir/<name>/app and returns that path; the archive sits in dir/<name>.tar.gz. */
async function unpackInto(name: string, archive: Buffer, opts: UnpackOptions = { limits: DEFAULT_UNPACK_LIMITS }): Promise<string> {
  const file = join(dir.path, `${name}.tar.gz`);
  await writeFile(file, archive);
  const dest = join(dir.path, name, 'app');
  await unpack(file, dest, opts);
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

test('refuses the chain a/ -> . then b/ -> a/.. (a trailing slash once hid the symlink from the check)', { timeout: 10_000 }, async () => {
  const archive = craftArchive([
    { path: 'a/', type: 'SymbolicLink', linkpath: '.' },
    { path: 'b/', type: 'SymbolicLink', linkpath: 'a/..' },
  ]);
  await assert.rejects(unpackInto('slashchain', archive), /link "b\/" -> "a\/\.\." uses "\.\." after the symlink "a"/);
  assert.equal(existsSync(join(dir.path, 'slashchain', 'app')), false, 'nothing extracted');
});

test('refuses ".." anywhere after a symlink on the way, not only right after it', { timeout: 10_000 }, async () => {
  // d -> sub, sub/l -> .. (the app dir): d/l is the app dir, so d/l/.. is its parent, though it reads as "d".
  const archive = craftArchive([
    { path: 'sub/', type: 'Directory' },
    { path: 'sub/l', type: 'SymbolicLink', linkpath: '..' },
    { path: 'd', type: 'SymbolicLink', linkpath: 'sub' },
    { path: 'e', type: 'SymbolicLink', linkpath: 'd/l/..' },
  ]);
  await assert.rejects(unpackInto('deepchain', archive), /link "e" -> "d\/l\/\.\." uses "\.\." after the symlink "d"/);
});

test('refuses a hard link to a symlink, and an entry written through a symlink', { timeout: 10_000 }, async () => {
  const viaHardLink = craftArchive([
    { path: 'a', type: 'SymbolicLink', linkpath: '.' },
    { path: 'h', type: 'Link', linkpath: 'a' },
    { path: 'x', type: 'SymbolicLink', linkpath: 'h/..' },
  ]);
  await assert.rejects(unpackInto('hardtosym', viaHardLink), /hard link "h" -> "a" points at a symlink/);
  const through = craftArchive([
    { path: 'up', type: 'SymbolicLink', linkpath: '.' },
    { path: 'up/file.txt', type: 'File', body: 'x' },
  ]);
  await assert.rejects(unpackInto('through', through), /entry "up\/file\.txt" would be written through the symlink "up"/);
});

test('refuses an archive whose files add up to more than the byte limit, naming the limit, before writing anything', { timeout: 10_000 }, async () => {
  // 4 MiB of zeros gzip to a few KB: the shape of a decompression bomb, scaled down.
  const bomb = craftArchive([{ path: 'zeros.bin', type: 'File', body: Buffer.alloc(4 * 1024 * 1024) }]);
  assert.ok(bomb.length < 64 * 1024, `compressed to ${bomb.length} bytes`);
  await assert.rejects(
    unpackInto('bomb', bomb, { limits: { maxBytes: 1024 * 1024, maxEntries: 100 } }),
    /refused: it unpacks to more than 1048576 bytes \(limit ZECTRE_AGENT_MAX_UNPACKED_BYTES=1048576\)/,
  );
  assert.equal(existsSync(join(dir.path, 'bomb', 'app')), false, 'nothing extracted');
});

test('refuses an archive with more entries than the limit, naming the limit', { timeout: 10_000 }, async () => {
  const many = craftArchive(Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, type: 'File' as const })));
  await assert.rejects(unpackInto('many', many, { limits: { maxBytes: 1024, maxEntries: 10 } }), /more than 10 entries \(limit ZECTRE_AGENT_MAX_ENTRIES=10\)/);
  assert.equal(existsSync(join(dir.path, 'many', 'app')), false);
});

test('extraction itself stops at the limits, without relying on the listing', { timeout: 10_000 }, async () => {
  const file = join(dir.path, 'extract-only.tar.gz');
  // Random bytes: zeros would trip node-tar's own decompression-ratio guard first.
  await writeFile(file, craftArchive([{ path: 'big.bin', type: 'File', body: randomBytes(2 * 1024 * 1024) }]));
  const dest = join(dir.path, 'extract-only');
  await mkdir(dest);
  await assert.rejects(extract(file, dest, { maxBytes: 1024 * 1024, maxEntries: 100 }), /refused while unpacking: it unpacks to more than 1048576 bytes/);
  const written = (await stat(join(dest, 'big.bin')).catch(() => undefined))?.size ?? 0;
  assert.ok(written <= 1024 * 1024, `wrote ${written} bytes past the limit`);

  await writeFile(file, craftArchive(Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, type: 'File' as const }))));
  const dest2 = join(dir.path, 'extract-only-2');
  await mkdir(dest2);
  await assert.rejects(extract(file, dest2, { maxBytes: 1024, maxEntries: 10 }), /refused while unpacking: it has more than 10 entries/);
  assert.ok((await readdir(dest2)).length <= 10);
});

test('strips setuid, setgid and sticky bits, and hands every entry to the owner', { timeout: 10_000 }, async (t) => {
  const archive = craftArchive([
    { path: 'bin/', type: 'Directory', mode: 0o1777 },
    { path: 'bin/suid', type: 'File', body: '#!/bin/sh\n', mode: 0o6755 },
    { path: 'implicit/dir/file', type: 'File', body: 'x' },
    { path: 'link', type: 'SymbolicLink', linkpath: 'bin/suid' },
  ]);
  const owner = process.getuid?.() === 0 ? { uid: 200_123, gid: 200_123 } : undefined;
  const dest = await unpackInto('modes', archive, { limits: DEFAULT_UNPACK_LIMITS, ...(owner ? { owner } : {}) });
  assert.equal((await stat(join(dest, 'bin/suid'))).mode & 0o7000, 0, 'no setuid/setgid on the file');
  assert.equal((await stat(join(dest, 'bin'))).mode & 0o7000, 0, 'no sticky bit on the directory');
  assert.equal((await stat(dest)).mode & 0o777, 0o700, 'the app directory is private');
  if (!owner) return t.skip('ownership needs root');
  for (const path of ['', 'bin', 'bin/suid', 'implicit', 'implicit/dir', 'implicit/dir/file', 'link']) {
    const s = await lstat(join(dest, path));
    assert.deepEqual([s.uid, s.gid], [owner.uid, owner.gid], `owner of "${path}"`);
  }
});
