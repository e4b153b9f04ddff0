import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scale } from './operate.js';

test('Scale: a count, resources, or both; resources get no defaults (absent keeps the live value)', () => {
  assert.deepEqual(Scale.parse({ replicas: 3 }), { replicas: 3 });
  assert.deepEqual(Scale.parse({ resources: { memoryMb: 200 } }), { resources: { memoryMb: 200 } });
  assert.deepEqual(Scale.parse({ replicas: 2, resources: { cpuMillis: 250, memoryMb: 64 } }), {
    replicas: 2,
    resources: { cpuMillis: 250, memoryMb: 64 },
  });
});

test('Scale refuses nothing to change, out-of-range values and unknown resource keys', () => {
  for (const body of [{}, { resources: {} }, { replicas: 0 }, { resources: { memoryMb: 8 } }, { resources: { cpuMillis: 0 } },
    { resources: { cpuMillis: 2.5 } }, { resources: { memoryMb: '200' } }, { resources: { memory: 200 } }]) {
    assert.equal(Scale.safeParse(body).success, false, JSON.stringify(body));
  }
  assert.match(Scale.safeParse({}).error!.issues[0]!.message, /give replicas, resources/);
});
