import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { packTree, sourceTimes } from './pack.js';

test('the same source and build output pack to the same digest, whenever the build wrote its files', async () => {
  const digests: string[] = [];
  const epochs: number[] = [];
  for (const writtenAt of [1_000_000, 2_000_000]) {
    const dir = await mkdtemp(join(tmpdir(), 'zectre-pack-'));
    try {
      await writeFile(join(dir, 'server.js'), 'x');
      await utimes(join(dir, 'server.js'), 1_700_000_000, 1_700_000_000);
      const { times, epoch } = await sourceTimes(dir);
      epochs.push(epoch);
      // What the build writes: new files at "now" (different each run).
      await mkdir(join(dir, 'node_modules/a'), { recursive: true });
      await writeFile(join(dir, 'node_modules/a/index.js'), 'y');
      await utimes(join(dir, 'node_modules/a/index.js'), writtenAt, writtenAt);
      digests.push((await packTree(dir, times, epoch)).digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  assert.deepEqual(epochs, [1_700_000_000, 1_700_000_000]);
  assert.equal(digests[0], digests[1]);
});
