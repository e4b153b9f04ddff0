import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployment, evaluate, node, projectOf, task, viewOf, NOW } from '../../../test/support/reconciler.js';
import { CapacityView } from './capacity.js';
import { reconcileProject } from './reconcile-project.js';

const pending = (id: string, replicas: number, cpuMillis = 100, memoryMb = 128) =>
  deployment(id, { status: 'pending', replicas, cpuMillis, memoryMb, createdAt: NOW - 1000 });

test('places every replica and gives each a distinct port on its node', () => {
  const d = evaluate({ deployments: [pending('d1', 3)] });
  assert.deepEqual(d.place.map((p) => p.port), [20000, 20001, 20002]);
  assert.deepEqual(d.deployments, [{ id: 'd1', status: 'deploying' }]);
});

test("skips ports held by other projects' running tasks", () => {
  const d = evaluate({ deployments: [pending('d1', 1)], others: [{ nodeId: 'n1', port: 20000, cpuMillis: 100, memoryMb: 128 }] });
  assert.equal(d.place[0]!.port, 20001);
});

test('spreads replicas across nodes', () => {
  const d = evaluate({ deployments: [pending('d1', 3)], nodes: [node('n1'), node('n2'), node('n3')] });
  assert.deepEqual(d.place.map((p) => p.nodeId).sort(), ['n1', 'n2', 'n3']);
});

test('respects CPU and memory capacity and says why it could not place', () => {
  const d = evaluate({ deployments: [pending('d1', 3, 100, 64)], nodes: [node('n1', { cpuMillis: 250 })] });
  assert.equal(d.place.length, 2);
  assert.equal(d.deployments[0]!.status, 'deploying');
  assert.match(d.deployments[0]!.reason!, /^waiting for capacity for 1 task\(s\): no node has room for 100m CPU and 64 MB \(n1: 50m CPU, 896 MB free\)$/);
});

test('respects the port range as capacity', () => {
  const tiny = node('n1', { cpuMillis: 10_000, memoryMb: 10_000, portMin: 20000, portMax: 20001 });
  const d = evaluate({ deployments: [pending('d1', 3, 1, 16)], nodes: [tiny] });
  assert.equal(d.place.length, 2);
  assert.match(d.deployments[0]!.reason!, /waiting for capacity for 1 task\(s\).*n1: 9998m CPU, 9968 MB free, no free port/);
});

test('with no nodes, nothing is placed and the reason says to start an agent', () => {
  const d = evaluate({ deployments: [pending('d1', 1)], nodes: [] });
  assert.deepEqual(d.place, []);
  assert.deepEqual(d.deployments, [{ id: 'd1', reason: 'waiting for capacity for 1 task(s): no ready node: start an agent with a join token' }]);
});

test('prefers the less loaded node', () => {
  const d = evaluate({
    deployments: [pending('d1', 1)],
    nodes: [node('n1'), node('n2')],
    others: [{ nodeId: 'n1', port: 20000, cpuMillis: 500, memoryMb: 128 }],
  });
  assert.equal(d.place[0]!.nodeId, 'n2');
});

test('on a fleet the reason names the freest nodes, not all of them', () => {
  const nodes = Array.from({ length: 500 }, (_, i) => node(`n${String(i).padStart(3, '0')}`, { cpuMillis: 100 + i }));
  const d = evaluate({ deployments: [pending('d1', 1, 1000)], nodes });
  assert.match(d.deployments[0]!.reason!, /\(n499: 599m CPU, 1024 MB free; n498: 598m CPU, 1024 MB free; n497: 597m CPU, 1024 MB free; 497 more node\(s\)\)$/);
});

test('on a fleet each replica goes to a node without one, and the one node with room is still found', () => {
  const nodes = Array.from({ length: 5000 }, (_, i) => node(`n${i}`));
  const spread = evaluate({ deployments: [pending('d1', 200)], nodes });
  assert.equal(new Set(spread.place.map((p) => p.nodeId)).size, 200);
  // Every node but one is full: the walk goes on past the candidate limit until it finds it.
  const full = nodes.map((n, i) => (i === 3777 ? n : { ...n, cpuMillis: 50 }));
  const d = evaluate({ deployments: [pending('d2', 1)], nodes: full });
  assert.deepEqual(d.place, [{ deploymentId: 'd2', nodeId: 'n3777', port: 20000 }]);
});

test('projects evaluated one after another on one view see each other\'s placements', () => {
  const capacity = new CapacityView([node('n1', { portMax: 20002 })]);
  const a = reconcileProject({ project: projectOf({ deployments: [pending('a', 2)] }, 'pa'), capacity, proxies: [], now: NOW });
  const b = reconcileProject({ project: projectOf({ deployments: [pending('b', 2)] }, 'pb'), capacity, proxies: [], now: NOW });
  assert.deepEqual(a.place.map((p) => p.port), [20000, 20001]);
  assert.deepEqual(b.place.map((p) => p.port), [20002]);
  assert.match(b.deployments[0]!.reason!, /waiting for capacity for 1 task\(s\)/);
});

test('a port freed by a stop in the same evaluation is placed on again, lowest first', () => {
  const old = deployment('d0', { status: 'superseded', retirement: { epoch: 5, requestedAt: NOW - 5000 } });
  const s = {
    deployments: [old, pending('d1', 1)],
    tasks: [task('t0', 'd0', 'n1', 20000)],
    nodes: [node('n1', { portMax: 20000 })],
  };
  const d = evaluate(s);
  assert.deepEqual(d.stopTasks, [{ id: 't0', nodeId: 'n1' }]);
  assert.deepEqual(d.place, [{ deploymentId: 'd1', nodeId: 'n1', port: 20000 }]);
});

test('the capacity view does not depend on the order of its nodes', () => {
  const nodes = [node('n2'), node('n1', { cpuMillis: 900 }), node('n3')];
  const s = { deployments: [pending('d1', 4), pending('d2', 2)], nodes };
  const reversed = { ...s, nodes: [...nodes].reverse() };
  assert.deepEqual(evaluate(s), evaluate(reversed));
  assert.deepEqual(viewOf(s).ids, ['n1', 'n2', 'n3']);
});
