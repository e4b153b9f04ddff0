/**
 * A task whose port another process holds (ObservedTask.code port_in_use) is replaced on another
 * port, and ports held by others (the node's reported foreign ports, CapacityView.block) go to no task.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PORT_IN_USE } from '../../../protocol/tasks.js';
import { deployment, evaluate, node, NOW, task, viewOf, type Scenario } from '../../../test/support/reconciler.js';

const squatted = (id: string, deploymentId: string, nodeId: string, port: number) =>
  task(id, deploymentId, nodeId, port, { observed: 'failed', code: PORT_IN_USE, message: `port ${port} is in use by another process on this node` });
const deploying = deployment('d2', { status: 'deploying', createdAt: NOW - 10_000, deadlineAt: NOW + 110_000 });

test('a task failed with port_in_use is stopped and replaced at once on another port, long before the deadline', () => {
  const s: Scenario = { deployments: [deployment('d1'), deploying], tasks: [task('t1', 'd1', 'n1', 20001), squatted('t2', 'd2', 'n1', 20000)] };
  const d = evaluate(s);
  assert.deepEqual(d.stopTasks, [{ id: 't2', nodeId: 'n1' }]);
  assert.deepEqual(d.place, [{ deploymentId: 'd2', nodeId: 'n1', port: 20002 }], 'neither the squatted port nor a held one');
  assert.deepEqual(d.deployments, [], 'the deployment keeps deploying');
  assert.match(d.warnings.join('\n'), /port 20000 on node n1 is held by another process/);
});

test('a port_in_use failure of the live deployment is replaced too; other failures are left to the deadline and crash-loop rules', () => {
  const live = evaluate({ deployments: [deployment('d1')], tasks: [squatted('t1', 'd1', 'n1', 20000)] });
  assert.deepEqual([live.stopTasks, live.place], [[{ id: 't1', nodeId: 'n1' }], [{ deploymentId: 'd1', nodeId: 'n1', port: 20001 }]]);
  const other = evaluate({ deployments: [deployment('d1'), deploying], tasks: [task('t1', 'd1', 'n1', 20001), task('t2', 'd2', 'n1', 20000, { observed: 'failed', message: 'bad archive' })] });
  assert.deepEqual([other.stopTasks, other.place], [[], []]);
});

test('ports the node reports held by others are assigned to no task', () => {
  const s: Scenario = { deployments: [deployment('d1', { replicas: 3 })], nodes: [node('n1', { portMin: 20000, portMax: 20004 })] };
  const view = viewOf(s);
  view.block('n1', [20000, 20002]);
  assert.deepEqual(evaluate(s, view).place.map((p) => p.port), [20001, 20003, 20004]);
  const full = viewOf(s);
  full.block('n1', [20000, 20001, 20002, 20003]);
  const d = evaluate(s, full);
  assert.deepEqual(d.place.map((p) => p.port), [20004]);
  assert.match(d.deployments[0]?.reason ?? '', /waiting for capacity for 2 task\(s\)/);
});

test('property: no placement gets a blocked port, a squatted port or a port a task holds; every squatted task is stopped', () => {
  const arb = fc.record({
    nodes: fc.integer({ min: 1, max: 3 }),
    width: fc.integer({ min: 1, max: 8 }),
    replicas: fc.integer({ min: 0, max: 6 }),
    tasks: fc.array(fc.record({ node: fc.nat(), slot: fc.nat(), squatted: fc.boolean(), live: fc.boolean() }), { maxLength: 8 }),
    blocked: fc.array(fc.record({ node: fc.nat(), slot: fc.nat() }), { maxLength: 6 }),
  });
  fc.assert(
    fc.property(arb, (g) => {
      const nodes = Array.from({ length: g.nodes }, (_, i) => node(`n${i}`, { portMin: 20000, portMax: 20000 + g.width - 1, cpuMillis: 100_000, memoryMb: 100_000 }));
      const used = new Set<string>();
      const tasks = g.tasks.flatMap((t, i) => {
        const nodeId = `n${t.node % g.nodes}`;
        const port = 20000 + (t.slot % g.width);
        if (used.has(`${nodeId}:${port}`)) return []; // one task per port, as tasks_node_port keeps it
        used.add(`${nodeId}:${port}`);
        const dep = t.live ? 'd1' : 'd2';
        return [t.squatted ? squatted(`t${i}`, dep, nodeId, port) : task(`t${i}`, dep, nodeId, port)];
      });
      const s: Scenario = { deployments: [deployment('d1', { replicas: g.replicas }), deployment('d2', { status: 'deploying', replicas: g.replicas, createdAt: NOW - 1000 })], tasks, nodes };
      const view = viewOf(s);
      const blocked = new Set<string>();
      for (const b of g.blocked) {
        const nodeId = `n${b.node % g.nodes}`;
        const port = 20000 + (b.slot % g.width);
        view.block(nodeId, [port]);
        blocked.add(`${nodeId}:${port}`);
      }
      const d = evaluate(s, view);
      const stopped = new Set(d.stopTasks.map((t) => t.id));
      for (const t of tasks) if (t.code === PORT_IN_USE) assert.ok(stopped.has(t.id), `${t.id} is stopped`);
      const placed = new Set<string>();
      for (const p of d.place) {
        const key = `${p.nodeId}:${p.port}`;
        assert.ok(!blocked.has(key), `placed on the blocked ${key}`);
        // A port freed by a stopped task that was not squatted may be reused; a squatted or held one never.
        const holder = tasks.find((t) => `${t.nodeId}:${t.port}` === key);
        assert.ok(!holder || (holder.code !== PORT_IN_USE && stopped.has(holder.id)), `placed on ${key}, held by ${holder?.id}`);
        assert.ok(!placed.has(key), `${key} placed twice`);
        placed.add(key);
      }
    }),
    { numRuns: 500 },
  );
});
