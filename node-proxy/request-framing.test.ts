import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Refusal, requestFraming } from './request-framing.js';

const MAX = 1_000_000;
/** Headers as hyper-express (last value) and uWS (first value) report them; one value each unless given. */
function framing(h: { length?: [string, string?]; coding?: [string, string?]; host?: [string, string?] }) {
  const last = (v?: [string, string?]) => (v ? (v[1] ?? v[0]) : undefined);
  const first = (v?: [string, string?]) => (v ? v[0] : '');
  return requestFraming(last(h.length), first(h.length), last(h.coding), first(h.coding), last(h.host), first(h.host), MAX);
}
const refused = (r: unknown) => (r instanceof Refusal ? `${r.status} ${r.message}` : r);

test('a plain Content-Length, chunked in any letter case, or no body', () => {
  assert.equal(framing({ host: ['a'], length: ['12'] }), 12);
  assert.equal(framing({ host: ['a'], length: ['0'] }), 0);
  for (const c of ['chunked', 'Chunked', 'CHUNKED', ' chunked ']) assert.equal(framing({ host: ['a'], coding: [c] }), 'chunked');
  assert.equal(framing({ host: ['a'] }), null);
  assert.equal(framing({ host: ['a'], length: ['5', '5'] }), 5, 'the same length twice reads the same everywhere');
});

test('refused: two lengths, a length that is not digits, length and coding together, a coding other than chunked, two hosts, too large', () => {
  assert.match(String(refused(framing({ host: ['a'], length: ['5', '6'] }))), /^400 .*conflicting Content-Length/);
  for (const bad of ['+5', '-1', '5, 5', '0x10', ': 5', '1e3', '']) assert.match(String(refused(framing({ host: ['a'], length: [bad] }))), /^400 /, bad);
  assert.match(String(refused(framing({ host: ['a'], length: ['4'], coding: ['chunked'] }))), /^400 .*both/);
  for (const c of ['gzip, chunked', 'identity', 'chunked, gzip', '']) assert.match(String(refused(framing({ host: ['a'], coding: [c] }))), /^400 .*chunked/, c);
  assert.match(String(refused(framing({ host: ['a'], coding: ['identity', 'chunked'] }))), /^400 /, 'the first coding counts too');
  assert.match(String(refused(framing({ host: ['a.test', 'b.test'] }))), /^400 .*Host/);
  assert.match(String(refused(framing({ host: ['a'], length: [String(MAX + 1)] }))), /^413 /);
});
