import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ephemeralOverlapWarning, ephemeralRange } from './ephemeral-ports.js';

test('the kernel range is read from ip_local_port_range, tabs and all', () => {
  assert.deepEqual(ephemeralRange(() => '32768\t60999\n'), [32768, 60999]);
  assert.equal(ephemeralRange(() => { throw new Error('ENOENT'); }), undefined);
  assert.equal(ephemeralRange(() => 'garbage'), undefined);
});

test('a task range inside or across the ephemeral range is named in a warning; one below it is not', () => {
  const kernel: [number, number] = [32768, 60999];
  assert.equal(ephemeralOverlapWarning([20000, 29999], kernel), undefined);
  assert.match(ephemeralOverlapWarning([54100, 54199], kernel) ?? '', /task ports 54100-54199 overlap the kernel's ephemeral ports 32768-60999/);
  assert.match(ephemeralOverlapWarning([30000, 40000], kernel) ?? '', /ZECTRE_AGENT_PORT_RANGE/);
  assert.equal(ephemeralOverlapWarning([61000, 62000], kernel), undefined);
  assert.equal(ephemeralOverlapWarning([54100, 54199], undefined), undefined);
});
