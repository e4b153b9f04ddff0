import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRouteTable, normalizeHost, prefixMatches, type TaskRow } from './route-table.js';

const domain = 'apps.test';
const task = (deployment_id: string, port: number, address = '10.0.0.1'): TaskRow => ({
  slug: 'shop',
  live_deployment_id: 'd1',
  deployment_id,
  address,
  port,
});

const table = buildRouteTable({
  epoch: 7,
  appsDomain: domain,
  tasks: [task('d1', 5001), task('d1', 5002), task('d2', 6001), task('d1', 5001)],
  projects: [
    { slug: 'shop', live_deployment_id: 'd1' },
    { slug: 'idle', live_deployment_id: null },
  ],
  deployments: [
    { id: 'd1', slug: 'shop' },
    { id: 'd2', slug: 'shop' },
    { id: 'd3', slug: 'shop' },
  ],
  customRoutes: [
    { host: 'Shop.Example.com', path_prefix: '/', live_deployment_id: 'd1' },
    { host: 'shop.example.com', path_prefix: '/api', live_deployment_id: 'd2' },
    { host: 'shop.example.com', path_prefix: '/api/v2/', live_deployment_id: null },
  ],
});

const ports = (host: string, path = '/') => table.lookup(host, path)?.backends.map((b) => b.port);

test('app host routes to the live deployment, preview host to its own deployment', () => {
  assert.deepEqual(ports(`shop.${domain}`), [5001, 5002]);
  assert.deepEqual(ports(`d2--shop.${domain}`), [6001]);
  assert.equal(table.lookup(`d1--shop.${domain}`, '/')?.deploymentId, 'd1');
  assert.equal(table.epoch, 7);
});

test('host matching ignores case, port and a trailing dot', () => {
  assert.deepEqual(ports(`SHOP.${domain.toUpperCase()}:8080`), [5001, 5002]);
  assert.deepEqual(ports(`shop.${domain}.`), [5001, 5002]);
  assert.equal(normalizeHost('[::1]:8080'), '[::1]');
});

test('unknown hosts are undefined; known hosts without healthy tasks have no backends', () => {
  assert.equal(table.lookup(`nope.${domain}`, '/'), undefined);
  assert.equal(table.lookup(`d9--shop.${domain}`, '/'), undefined);
  assert.equal(table.lookup(domain, '/'), undefined);
  assert.deepEqual(ports(`idle.${domain}`), []);
  assert.deepEqual(ports(`d3--shop.${domain}`), []);
});

test('custom routes: the longest matching path prefix wins, on segment boundaries', () => {
  assert.equal(table.lookup('shop.example.com', '/')?.deploymentId, 'd1');
  assert.equal(table.lookup('shop.example.com', '/apix')?.deploymentId, 'd1');
  assert.equal(table.lookup('shop.example.com', '/api')?.deploymentId, 'd2');
  assert.equal(table.lookup('shop.example.com', '/api?x=1')?.deploymentId, 'd2');
  assert.equal(table.lookup('shop.example.com', '/api/v1/users')?.deploymentId, 'd2');
  assert.deepEqual(ports('shop.example.com', '/api/v2/users'), []);
  assert.ok(prefixMatches('/', '/anything'));
  assert.ok(!prefixMatches('/a', '/ab'));
});

test('backend keys cover every distinct backend; IPv6 addresses are bracketed', () => {
  assert.deepEqual([...table.backendKeys()].sort(), ['10.0.0.1:5001', '10.0.0.1:5002', '10.0.0.1:6001']);
  const v6 = buildRouteTable({
    epoch: 1,
    appsDomain: domain,
    tasks: [task('d1', 5001, 'fd00::1')],
    projects: [{ slug: 'shop', live_deployment_id: 'd1' }],
    deployments: [],
    customRoutes: [],
  });
  assert.deepEqual([...v6.backendKeys()], ['[fd00::1]:5001']);
});
