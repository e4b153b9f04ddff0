import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Refusal, requestFraming } from './request-framing.js';

const MAX = 1_000_000;
/** Headers as node:http reports them: the first Host in `headers`, every one in the raw list. */
function framing(h: { length?: string; coding?: string; hosts?: string[] }) {
  const hosts = h.hosts ?? ['a'];
  return requestFraming(h.length, h.coding, hosts[0], hosts.flatMap((v, i) => [i % 2 ? 'HOST' : 'Host', v]), MAX);
}
const refused = (r: unknown) => (r instanceof Refusal ? `${r.status} ${r.message}` : r);

test('a plain Content-Length, chunked in any letter case, or no body', () => {
  assert.equal(framing({ length: '12' }), 12);
  assert.equal(framing({ length: '0' }), 0);
  for (const c of ['chunked', 'Chunked', 'CHUNKED', ' chunked ']) assert.equal(framing({ coding: c }), 'chunked');
  assert.equal(framing({}), null);
  assert.equal(framing({ hosts: ['a.test', 'a.test'] }), null, 'the same host twice reads the same everywhere');
});

test('refused: a length that is not digits, length and coding together, a coding other than chunked, two hosts, too large', () => {
  for (const bad of ['+5', '-1', '5, 5', '0x10', ': 5', '1e3', '']) assert.match(String(refused(framing({ length: bad }))), /^400 /, bad);
  assert.match(String(refused(framing({ length: '4', coding: 'chunked' }))), /^400 .*both/);
  for (const c of ['gzip, chunked', 'identity', 'chunked, gzip', 'chunked, chunked', '']) assert.match(String(refused(framing({ coding: c }))), /^400 .*chunked/, c);
  assert.match(String(refused(framing({ hosts: ['a.test', 'b.test'] }))), /^400 .*Host/);
  assert.match(String(refused(framing({ length: String(MAX + 1) }))), /^413 /);
});
