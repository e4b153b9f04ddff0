import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EvaluationQueue, type Evaluation } from './evaluation-queue.js';

test('evaluations raised during a pass are coalesced into one next pass; passes never overlap', async () => {
  const passes: Evaluation[] = [];
  let active = 0;
  let release!: () => void;
  const queue = new EvaluationQueue(async (e) => {
    assert.equal(active++, 0);
    passes.push(e);
    if (passes.length === 1) await new Promise<void>((r) => (release = r));
    active--;
  });
  const first = queue.raise({ projects: ['p2'], sweep: false });
  const later = [queue.raise({ projects: ['p3'], sweep: false }), queue.raise({ projects: ['p1'], sweep: true })];
  release();
  await Promise.all([first, ...later]);
  assert.deepEqual(passes, [
    { projects: ['p2'], sweep: false },
    { projects: ['p1', 'p3'], sweep: true },
  ]);
  assert.equal(queue.busy, false);
});

test('a failed pass rejects only the callers it covered; the queue goes on', async () => {
  let calls = 0;
  const queue = new EvaluationQueue(async () => {
    if (++calls === 1) throw new Error('database unreachable');
  });
  await assert.rejects(queue.raise({ projects: ['p1'], sweep: false }), /database unreachable/);
  await queue.raise({ projects: ['p1'], sweep: false });
  assert.equal(calls, 2);
});
