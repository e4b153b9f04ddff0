import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PortPool } from './ports.js';

test('a port pool hands out the lowest free port, takes released ones back, and ignores ports outside its range', () => {
  const pool = new PortPool(10, 13);
  pool.take(11);
  pool.take(99);
  assert.deepEqual([pool.allocate(), pool.allocate(), pool.allocate()], [10, 12, 13]);
  assert.equal(pool.allocate(), undefined);
  pool.release(12);
  assert.equal(pool.free, 1);
  assert.equal(pool.allocate(), 12);
});

test('a port pool behaves like a plain set of ports scanned from the bottom, whatever is taken and released', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('take' as const), port: fc.integer({ min: 5, max: 25 }) }),
    fc.record({ kind: fc.constant('release' as const), port: fc.integer({ min: 5, max: 25 }) }),
    fc.record({ kind: fc.constant('allocate' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const pool = new PortPool(8, 20);
      const model = new Set<number>();
      for (const o of ops) {
        if (o.kind === 'take') {
          pool.take(o.port);
          model.add(o.port);
        } else if (o.kind === 'release') {
          pool.release(o.port);
          model.delete(o.port);
        } else {
          let want: number | undefined;
          for (let p = 8; p <= 20 && want === undefined; p++) if (!model.has(p)) want = p;
          assert.equal(pool.allocate(), want);
          if (want !== undefined) model.add(want);
        }
        for (let p = 5; p <= 25; p++) assert.equal(pool.has(p), model.has(p), `port ${p}`);
        assert.equal(pool.free, 13 - [...model].filter((p) => p >= 8 && p <= 20).length);
      }
    }),
    { numRuns: 500 },
  );
});
