import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
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
  assert.equal((await stat(first)).mode & 0o777, 0o600, 'cached artifacts are readable by the agent only');
  assert.equal((await stat(join(dir.path, 'good'))).mode & 0o777, 0o700);
});

test('the credential never goes to another origin: such an artifact URL fails for good, and nothing is sent', { timeout: 10_000 }, async () => {
  const foreign = await blobServer();
  try {
    const artifact = await makeArtifact({ 'a.txt': 'a' });
    foreign.put('/steal', artifact);
    const cache = new ArtifactCache(join(dir.path, 'foreign'), blobs.url(''), () => 'node-secret');
    for (const url of [foreign.url('/steal'), `http://127.0.0.1:${new URL(blobs.url('')).port}@${new URL(foreign.url('')).host}/steal`]) {
      await assert.rejects(cache.get(sha256(artifact), url), (err: Error) => {
        assert.ok(err instanceof ArtifactError && err.permanent, String(err));
        assert.match(err.message, /is not on the control plane http:\/\/127\.0\.0\.1:\d+ \(ZECTRE_API_URL\): refusing to send the node credential there/);
        return true;
      });
    }
    assert.deepEqual(foreign.requests, [], 'no request reached the foreign origin');
  } finally {
    await foreign.close();
  }
});

test('a relative artifact URL is a path under the API URL, which may have a path of its own', { timeout: 10_000 }, async () => {
  const artifact = await makeArtifact({ 'a.txt': 'relative' });
  const digest = sha256(artifact);
  blobs.put(`/zectre/registry/v1/blobs/${digest}`, artifact);
  const cache = new ArtifactCache(join(dir.path, 'relative'), blobs.url('/zectre'), () => 'node-secret');
  assert.deepEqual(await readFile(await cache.get(digest, `/registry/v1/blobs/${digest}`)), artifact);
  assert.ok(blobs.requests.includes(`/zectre/registry/v1/blobs/${digest} Bearer node-secret`), blobs.requests.join('\n'));
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
  const down = new ArtifactCache(join(dir.path, 'down'), 'http://127.0.0.1:1', () => 'x');
  await assert.rejects(down.get(digest, '/blob'), (err: Error) => err instanceof ArtifactError && !err.permanent && /ECONNREFUSED/.test(err.message));
  await assert.rejects(cache.get('md5:abc', blobs.url('/x')), /is not sha256:<64 hex>/);
});
