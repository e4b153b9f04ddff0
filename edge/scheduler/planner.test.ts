import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plan, type NodeState, type Snapshot } from './planner.js';

const node = (id: string, cpuMillis = 1000, memoryMb = 1024): NodeState => ({ id, cpuMillis, memoryMb, portMin: 20000, portMax: 20009 });
const dep = (id: string, replicas: number, cpuMillis = 100, memoryMb = 128) => ({ id, replicas, cpuMillis, memoryMb });

test('places every replica and gives each a distinct port on its node', () => {
  const p = plan({ nodes: [node('n1')], tasks: [], deployments: [dep('d1', 3)] });
  assert.equal(p.place.length, 3);
  assert.deepEqual(p.place.map((x) => x.port), [20000, 20001, 20002]);
  assert.deepEqual(p.unplaced, []);
});

test('skips ports already used by running tasks', () => {
  const p = plan({
    nodes: [node('n1')],
    tasks: [{ id: 't1', deploymentId: 'd0', nodeId: 'n1', port: 20000, cpuMillis: 100, memoryMb: 128 }],
    deployments: [dep('d1', 1)],
  });
  assert.equal(p.place[0]!.port, 20001);
});

test('spreads replicas across nodes', () => {
  const p = plan({ nodes: [node('n1'), node('n2'), node('n3')], tasks: [], deployments: [dep('d1', 3)] });
  assert.deepEqual(p.place.map((x) => x.nodeId).sort(), ['n1', 'n2', 'n3']);
});

test('respects CPU and memory capacity and says why it could not place', () => {
  const p = plan({ nodes: [node('n1', 250, 1024)], tasks: [], deployments: [dep('d1', 3, 100, 64)] });
  assert.equal(p.place.length, 2);
  assert.equal(p.unplaced.length, 1);
  assert.equal(p.unplaced[0]!.missing, 1);
  assert.match(p.unplaced[0]!.reason, /no node has room for 100m CPU/);
});

test('respects the port range as capacity', () => {
  const tiny: NodeState = { id: 'n1', cpuMillis: 10_000, memoryMb: 10_000, portMin: 20000, portMax: 20001 };
  const p = plan({ nodes: [tiny], tasks: [], deployments: [dep('d1', 3, 1, 16)] });
  assert.equal(p.place.length, 2);
  assert.equal(p.unplaced[0]!.missing, 1);
});

test('with no nodes, nothing is placed and the reason says to start an agent', () => {
  const p = plan({ nodes: [], tasks: [], deployments: [dep('d1', 1)] });
  assert.match(p.unplaced[0]!.reason, /no ready node/);
});

test('prefers the less loaded node', () => {
  const p = plan({
    nodes: [node('n1'), node('n2')],
    tasks: [{ id: 't1', deploymentId: 'd0', nodeId: 'n1', port: 20000, cpuMillis: 500, memoryMb: 128 }],
    deployments: [dep('d1', 1)],
  });
  assert.equal(p.place[0]!.nodeId, 'n2');
});

test('scales down by stopping tasks beyond the replica count', () => {
  const t = (id: string) => ({ id, deploymentId: 'd1', nodeId: 'n1', port: 20000 + Number(id.slice(1)), cpuMillis: 100, memoryMb: 128 });
  const p = plan({ nodes: [node('n1')], tasks: [t('t1'), t('t2'), t('t3')], deployments: [dep('d1', 1)] });
  assert.deepEqual(p.stop, ['t3', 't2']);
  assert.deepEqual(p.place, []);
});

test('is deterministic: same snapshot, same plan, whatever the input order', () => {
  const a: Snapshot = { nodes: [node('n2'), node('n1'), node('n3')], tasks: [], deployments: [dep('d1', 4), dep('d2', 2)] };
  const b: Snapshot = { ...a, nodes: [node('n3'), node('n1'), node('n2')] };
  assert.deepEqual(plan(a), plan(a));
  assert.deepEqual(plan(a), plan(b));
});

test('a retiring task holds its port and capacity but counts for no replica and is never stopped again', () => {
  const tight: NodeState = { id: 'n1', cpuMillis: 10_000, memoryMb: 10_000, portMin: 20000, portMax: 20001 };
  const retiring = { id: 't0', deploymentId: 'd1', nodeId: 'n1', port: 20000, cpuMillis: 1, memoryMb: 16, retiring: true };
  const p = plan({ nodes: [tight], tasks: [retiring], deployments: [dep('d1', 1, 1, 16)] });
  assert.deepEqual(p.stop, []);
  assert.deepEqual(p.place, [{ deploymentId: 'd1', nodeId: 'n1', port: 20001 }]);
});
