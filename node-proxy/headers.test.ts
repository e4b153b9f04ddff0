import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plainAddress, responseHeaders, upstreamRequestHeaders, type ClientInfo } from './headers.js';
import { TrustedProxies } from './trusted-proxies.js';

const direct = (remoteAddress: string, host = 'shop.apps.test'): ClientInfo => ({ host, remoteAddress, proto: 'http', trusted: false, clientAddress: remoteAddress });

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
      'x-request-id': 'abc',
      accept: 'text/html',
    },
    direct('127.0.0.1'),
  );
  assert.deepEqual(up, {
    host: 'shop.apps.test',
    accept: 'text/html',
    'x-forwarded-for': '127.0.0.1',
    'x-forwarded-proto': 'http',
    'x-forwarded-host': 'shop.apps.test',
    'x-real-ip': '127.0.0.1',
    'x-request-id': 'abc',
  });
});

test('request: naming Host or the framing in Connection removes none of them; the framing is never copied (the caller writes it)', () => {
  const up = upstreamRequestHeaders(
    { host: 'shop.apps.test', connection: 'host, content-length, transfer-encoding', 'content-length': '5', 'transfer-encoding': 'chunked' },
    direct('10.1.1.1'),
  );
  assert.equal(up.host, 'shop.apps.test');
  assert.equal(up['content-length'], undefined);
  assert.equal(up['transfer-encoding'], undefined);
});

test('request: forwarding headers from an untrusted peer are replaced, not appended to', () => {
  const up = upstreamRequestHeaders(
    { host: 'shop.apps.test', 'x-forwarded-for': '6.6.6.6', 'x-real-ip': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'bank.example' },
    direct('10.1.1.1'),
  );
  assert.deepEqual(
    [up['x-forwarded-for'], up['x-real-ip'], up['x-forwarded-proto'], up['x-forwarded-host']],
    ['10.1.1.1', '10.1.1.1', 'http', 'shop.apps.test'],
  );
});

test('request: from a trusted peer they are kept, X-Forwarded-For appended, X-Real-IP the client it names', () => {
  const up = upstreamRequestHeaders(
    { host: 'shop.apps.test', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example' },
    { host: 'shop.apps.test', remoteAddress: '10.0.0.2', proto: 'http', trusted: true, clientAddress: '203.0.113.9' },
  );
  assert.deepEqual(
    [up['x-forwarded-for'], up['x-real-ip'], up['x-forwarded-proto'], up['x-forwarded-host']],
    ['203.0.113.9, 10.0.0.2', '203.0.113.9', 'https', 'shop.example'],
  );
});

test('trusted proxies: addresses and CIDR blocks (v4 and v6); the client is the nearest untrusted X-Forwarded-For hop', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  assert.equal(trusted.trusts('10.200.1.1'), true);
  assert.equal(trusted.trusts('192.0.2.7'), true);
  assert.equal(trusted.trusts('192.0.2.8'), false);
  assert.equal(trusted.trusts('fd00::1'), true);
  assert.equal(trusted.clientOf('10.0.0.2', '6.6.6.6, 203.0.113.9, 10.3.3.3'), '203.0.113.9');
  assert.equal(trusted.clientOf('10.0.0.2', undefined), '10.0.0.2');
  assert.equal(trusted.clientOf('10.0.0.2', '10.1.1.1'), '10.1.1.1');
  assert.equal(trusted.clientOf('10.0.0.2', 'unknown, 10.1.1.1'), '10.1.1.1');
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/', '1.2.3.4/8/9']) assert.throws(() => new TrustedProxies([bad]), /is not an IP address or CIDR block/);
});

test('request: a missing request id is generated', () => {
  const up = upstreamRequestHeaders({ host: 'h' }, direct('10.1.1.1', 'h'));
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
