import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ArtifactCache, ArtifactError } from './artifact-cache.js';
import { blobServer, makeArtifact, sha256, tempDir } from './test-support.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let blobs: Awaited<ReturnType<typeof blobServer>>;
before(async () => {
  dir = await tempDir('artifacts');
  blobs = await blobServer();
});
after(async () => {
  await blobs.close();
  await dir.remove();
});

test('downloads with the node credential, verifies, and serves the second request from the cache', { timeout: 10_000 }, async () => {
  const artifact = await makeArtifact({ 'a.txt': 'a' });
  const digest = sha256(artifact);
  blobs.put('/good', artifact);
  const cache = new ArtifactCache(join(dir.path, 'good'), blobs.url('/'), () => 'node-secret');
  const [first, second] = await Promise.all([cache.get(digest, blobs.url('/good')), cache.get(digest, blobs.url('/good'))]);
  const third = await cache.get(digest, blobs.url('/good'));
  assert.equal(first, join(dir.path, 'good', `${digest.slice('sha256:'.length)}.tar.gz`));
  assert.equal(second, first);
  assert.equal(third, first);
  assert.deepEqual(await readFile(first), artifact);
  assert.deepEqual(blobs.requests.filter((r) => r.startsWith('/good ')), ['/good Bearer node-secret'], 'one download for three asks');
});

test('a digest mismatch fails clearly and leaves nothing in the cache', { timeout: 10_000 }, async () => {
  const served = await makeArtifact({ 'a.txt': 'tampered' });
  const expected = sha256(Buffer.from('what the deployment was built from'));
  blobs.put('/tampered', served);
  const cache = new ArtifactCache(join(dir.path, 'bad'), blobs.url('/'), () => 'node-secret');
  await assert.rejects(cache.get(expected, blobs.url('/tampered')), (err: Error) => {
    assert.ok(err instanceof ArtifactError && err.permanent);
    const got = sha256(served).slice(0, 'sha256:'.length + 12);
    assert.ok(err.message.includes(`artifact ${expected.slice(0, 'sha256:'.length + 12)}… digest mismatch: got ${got}…`), err.message);
    return true;
  });
  assert.deepEqual(await readdir(join(dir.path, 'bad')), []);
});

test('a 404 is permanent, a refused connection is not', { timeout: 10_000 }, async () => {
  const cache = new ArtifactCache(join(dir.path, 'missing'), blobs.url('/'), () => 'x');
  const digest = sha256(Buffer.from('x'));
  await assert.rejects(cache.get(digest, blobs.url('/nope')), (err: Error) => err instanceof ArtifactError && err.permanent && /answered 404/.test(err.message));
  await assert.rejects(cache.get(digest, 'http://127.0.0.1:1/blob'), (err: Error) => err instanceof ArtifactError && !err.permanent);
  await assert.rejects(cache.get('md5:abc', blobs.url('/x')), /is not sha256:<64 hex>/);
});
