import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Balancer } from './balancer.js';
import { buildRouteTable } from './route-table.js';

const backend = (deployment_id: string, port: number) => ({
  slug: 'shop',
  live_deployment_id: 'd1',
  deployment_id,
  address: '10.0.0.1',
  port,
});
const table = buildRouteTable({
  epoch: 1,
  appsDomain: 'apps.test',
  tasks: [backend('d1', 5001), backend('d1', 5002), backend('d2', 6001)],
  projects: [{ slug: 'shop', live_deployment_id: 'd1' }],
  deployments: [{ id: 'd2', slug: 'shop' }],
  customRoutes: [],
});

test('round robin over the backends', () => {
  const target = table.lookup('shop.apps.test', '/')!;
  const balancer = new Balancer();
  assert.deepEqual([1, 2, 3, 4].map(() => balancer.pick(target)!.port), [5001, 5002, 5001, 5002]);
});

test('a failed backend is skipped while penalised, and used again once it answers', () => {
  const target = table.lookup('shop.apps.test', '/')!;
  const balancer = new Balancer(60_000);
  const first = target.backends[0]!;
  balancer.markFailed(first, 'ECONNREFUSED', true);
  assert.deepEqual([1, 2, 3].map(() => balancer.pick(target)!.port), [5002, 5002, 5002]);
  balancer.markOk(first);
  assert.deepEqual(new Set([1, 2].map(() => balancer.pick(target)!.port)), new Set([5001, 5002]));
});

test('when every backend is penalised one is still tried', () => {
  const target = table.lookup('shop.apps.test', '/')!;
  const balancer = new Balancer(60_000);
  for (const b of target.backends) balancer.markFailed(b, 'ECONNREFUSED', true);
  assert.ok(balancer.pick(target));
});

test('a retry names another backend, or none when there is no other', () => {
  const target = table.lookup('shop.apps.test', '/')!;
  const balancer = new Balancer();
  assert.equal(balancer.pick(target, target.backends[0])?.port, 5002);
  const single = table.lookup('d2--shop.apps.test', '/')!;
  assert.equal(balancer.pick(single, single.backends[0]), undefined);
});

test('least outstanding requests: a backend with requests in flight gets new ones only when the others are as busy', () => {
  const target = table.lookup('shop.apps.test', '/')!;
  const inflight = new Map<number, number>([[5001, 3], [5002, 0]]);
  const balancer = new Balancer(2_000, (b) => inflight.get(b.port) ?? 0);
  assert.deepEqual([1, 2, 3].map(() => balancer.pick(target)!.port), [5002, 5002, 5002]);
  inflight.set(5002, 3);
  assert.deepEqual(new Set([1, 2].map(() => balancer.pick(target)!.port)), new Set([5001, 5002]), 'equal load: round robin');
});

test('passive health: consecutive timeouts eject a backend (a success in between resets the count); an ejected backend is the last resort', () => {
  const target = table.lookup('shop.apps.test', '/')!;
  const logs: string[] = [];
  const balancer = new Balancer(2_000, () => 0, 3, 60_000, (m) => logs.push(m));
  const [a, b] = target.backends as [(typeof target.backends)[0], (typeof target.backends)[0]];
  balancer.markFailed(a, 'UPSTREAM_HEADERS_TIMEOUT', false);
  balancer.markFailed(a, 'UPSTREAM_HEADERS_TIMEOUT', false);
  balancer.markOk(a);
  balancer.markFailed(a, 'UPSTREAM_HEADERS_TIMEOUT', false);
  balancer.markFailed(a, 'UPSTREAM_HEADERS_TIMEOUT', false);
  assert.deepEqual([1, 2].map(() => balancer.pick(target)!.port).sort(), [5001, 5002], 'two timeouts since the last success: not ejected, not skipped');
  assert.equal(balancer.hasAlternative(target, b), true);
  balancer.markFailed(a, 'UPSTREAM_CONNECT_TIMEOUT', false);
  assert.match(logs.join('\n'), /backend 10\.0\.0\.1:5001 ejected for 60000 ms after 3 consecutive failures \(last: UPSTREAM_CONNECT_TIMEOUT\)/);
  assert.deepEqual([1, 2, 3].map(() => balancer.pick(target)!.port), [5002, 5002, 5002]);
  assert.equal(balancer.hasAlternative(target, b), false);
  assert.equal(balancer.pick(target, b)!.port, 5001, 'the last resort');
  balancer.markOk(a);
  assert.deepEqual([1, 2].map(() => balancer.pick(target)!.port).sort(), [5001, 5002]);
});
