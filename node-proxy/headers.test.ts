import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plainAddress, responseHeaders, upstreamRequestHeaders } from './headers.js';

test('request: hop-by-hop (and Connection-listed) headers dropped, forwarding headers set, request id kept', () => {
  const up = upstreamRequestHeaders(
    {
      host: 'shop.apps.test',
      connection: 'keep-alive, x-secret',
      'x-secret': '1',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'x',
      te: 'trailers',
      upgrade: 'h2c',
      'x-forwarded-for': '1.2.3.4',
      'x-request-id': 'abc',
      accept: 'text/html',
    },
    { host: 'shop.apps.test', remoteAddress: '127.0.0.1', proto: 'http' },
  );
  assert.deepEqual(up, {
    host: 'shop.apps.test',
    accept: 'text/html',
    'x-forwarded-for': '1.2.3.4, 127.0.0.1',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'shop.apps.test',
    'x-request-id': 'abc',
  });
});

test('request: a missing request id is generated', () => {
  const up = upstreamRequestHeaders({ host: 'h' }, { host: 'h', remoteAddress: '10.1.1.1', proto: 'http' });
  assert.match(up['x-request-id']!, /^[0-9a-f-]{36}$/);
  assert.equal(up['x-forwarded-for'], '10.1.1.1');
});

test('response: hop-by-hop headers and content-length dropped, repeated headers kept', () => {
  const flat = ['content-type', 'text/plain', 'content-length', '5', 'connection', 'keep-alive, X-Secret', 'x-secret', 's',
    'transfer-encoding', 'chunked', 'proxy-authenticate', 'Basic', 'set-cookie', 'a=1', 'set-cookie', 'b=2'];
  assert.deepEqual(responseHeaders(flat), [
    ['content-type', 'text/plain'],
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2'],
  ]);
});

test('IPv4-mapped client addresses are reported plain', () => {
  assert.equal(plainAddress('::ffff:10.0.0.7'), '10.0.0.7');
  assert.equal(plainAddress('fd00::7'), 'fd00::7');
});
