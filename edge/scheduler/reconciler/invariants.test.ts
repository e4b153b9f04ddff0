/**
 * Property tests: invariants of the reconciler over generated clusters (several projects sharing
 * nodes that are ready, draining or down; deployments in every status; tasks in every state, some
 * retiring; proxies lagging or silent). Each property evaluates every project in turn on one
 * capacity view, as a scheduler pass does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NOW } from '../../../test/support/reconciler.js';
import { CapacityView, type NodeCapacity } from './capacity.js';
import { reconcileProject } from './reconcile-project.js';
import type { Decisions, DeploymentSnap, DeploymentStatus, NodeStatus, ProjectSnapshot, ProxyAck, TaskSnap } from './types.js';

interface Cluster {
  nodes: (NodeCapacity & { status: NodeStatus })[];
  projects: ProjectSnapshot[];
  proxies: ProxyAck[];
}

const retirementArb = fc.option(fc.record({ epoch: fc.integer({ min: 1, max: 6 }), age: fc.integer({ min: 0, max: 40_000 }) }), { freq: 3 });
const nodeArb = fc.record({
  cpu: fc.integer({ min: 100, max: 1000 }),
  mem: fc.integer({ min: 64, max: 1024 }),
  ports: fc.integer({ min: 1, max: 6 }),
  status: fc.constantFrom<NodeStatus>('ready', 'ready', 'ready', 'draining', 'down'),
});
const deploymentArb = fc.record({
  status: fc.constantFrom<DeploymentStatus>('pending', 'deploying', 'deploying', 'live', 'standby', 'superseded', 'failed'),
  replicas: fc.integer({ min: 0, max: 4 }),
  cpu: fc.integer({ min: 10, max: 300 }),
  mem: fc.integer({ min: 16, max: 256 }),
  deadline: fc.integer({ min: -5000, max: 5000 }),
  retirement: retirementArb,
  waiting: fc.boolean(),
});
const taskArb = fc.record({
  deployment: fc.nat(),
  node: fc.nat(),
  observed: fc.constantFrom('pending', 'starting', 'healthy', 'healthy', 'healthy', 'unhealthy', 'exited'),
  restarts: fc.integer({ min: 0, max: 4 }),
  everHealthy: fc.boolean(),
  retirement: retirementArb,
  age: fc.integer({ min: 0, max: 100_000 }),
});
const projectArb = fc.record({
  deployments: fc.array(deploymentArb, { minLength: 1, maxLength: 4 }),
  tasks: fc.array(taskArb, { maxLength: 10 }),
});
const clusterArb: fc.Arbitrary<Cluster> = fc
  .record({
    nodes: fc.array(nodeArb, { maxLength: 5 }),
    projects: fc.array(projectArb, { minLength: 1, maxLength: 3 }),
    proxies: fc.array(fc.record({ epoch: fc.integer({ min: 1, max: 6 }), silentFor: fc.integer({ min: 0, max: 20_000 }) }), { maxLength: 3 }),
  })
  .map(build);

/** Makes the generated rows consistent, as the database keeps them: ports unique per node, capacity respected. */
type Raw<A> = A extends fc.Arbitrary<infer T> ? T : never;

function build(raw: { nodes: Raw<typeof nodeArb>[]; projects: Raw<typeof projectArb>[]; proxies: { epoch: number; silentFor: number }[] }): Cluster {
  const nodes = raw.nodes.map((n, i) => ({ id: `n${i}`, cpuMillis: n.cpu, memoryMb: n.mem, portMin: 20000, portMax: 20000 + n.ports - 1, status: n.status }));
  const used = nodes.map(() => ({ cpu: 0, mem: 0, ports: new Set<number>() }));
  const projects = raw.projects.map((p, k): ProjectSnapshot => {
    let live: string | null = null;
    let standby = false;
    const deployments = p.deployments.map((d, i): DeploymentSnap => {
      let status = d.status;
      if (status === 'live' && live) status = 'standby';
      if (status === 'standby' && standby) status = 'superseded';
      const id = `p${k}d${i}`;
      if (status === 'live') live = id;
      if (status === 'standby') standby = true;
      const retirement = status === 'superseded' ? (d.retirement ?? { epoch: 3, age: 0 }) : null;
      return {
        id, status, replicas: d.replicas, cpuMillis: d.cpu, memoryMb: d.mem,
        createdAt: NOW - 100_000 + i * 1000, deadlineAt: NOW + d.deadline,
        statusReason: d.waiting ? 'waiting for capacity for 1 task(s): x' : null,
        retirement: retirement && { epoch: retirement.epoch, requestedAt: NOW - retirement.age },
      };
    });
    const tasks: TaskSnap[] = [];
    if (nodes.length) {
      p.tasks.forEach((t, j) => {
        const d = deployments[t.deployment % deployments.length]!;
        if (d.status === 'pending' || d.status === 'failed') return; // they have no running tasks
        const ni = t.node % nodes.length;
        const n = nodes[ni]!;
        const u = used[ni]!;
        let port = n.portMin;
        while (u.ports.has(port)) port++;
        if (port > n.portMax) return;
        if (n.status === 'ready' && (u.cpu + d.cpuMillis > n.cpuMillis || u.mem + d.memoryMb > n.memoryMb)) return;
        u.ports.add(port);
        u.cpu += d.cpuMillis;
        u.mem += d.memoryMb;
        tasks.push({
          id: `p${k}t${j}`, deploymentId: d.id, nodeId: n.id, port, observed: t.observed, restarts: t.restarts,
          exitCode: t.observed === 'exited' ? 1 : null, message: null, everHealthy: t.everHealthy || t.observed === 'healthy',
          lastExitCode: null, lastExitMessage: null, createdAt: NOW - t.age,
          retirement: t.retirement && { epoch: t.retirement.epoch, requestedAt: NOW - t.retirement.age },
        });
      });
    }
    const status = new Map(tasks.map((t) => [t.nodeId, nodes.find((n) => n.id === t.nodeId)!.status]));
    return { id: `p${k}`, liveDeploymentId: live, deployments, tasks, nodes: status };
  });
  const proxies = raw.proxies.map((p, i) => ({ id: `px${i}`, epoch: p.epoch, lastSeenAt: NOW - p.silentFor }));
  return { nodes, projects, proxies };
}

function viewOf(c: Cluster): CapacityView {
  const ready = c.nodes.filter((n) => n.status === 'ready');
  const resources = new Map(c.projects.flatMap((p) => p.deployments.map((d) => [d.id, d] as const)));
  const uses = c.projects.flatMap((p) => p.tasks.map((t) => ({ nodeId: t.nodeId, port: t.port, cpuMillis: resources.get(t.deploymentId)!.cpuMillis, memoryMb: resources.get(t.deploymentId)!.memoryMb })));
  return new CapacityView(ready, uses);
}

/** One pass: every project in turn on one capacity view. */
function pass(c: Cluster): Decisions[] {
  const capacity = viewOf(c);
  return c.projects.map((project) => reconcileProject({ project, capacity, proxies: c.proxies, now: NOW }));
}

const RUNS = { numRuns: 400 };

test('never over capacity, never two running tasks on one port of a node, placements only on ready nodes within the range', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      const decisions = pass(c);
      const gone = new Set(decisions.flatMap((d) => [...d.stopTasks, ...d.lostTasks].map((t) => t.id)));
      const resources = new Map(c.projects.flatMap((p) => p.deployments.map((d) => [d.id, d] as const)));
      const running = [
        ...c.projects.flatMap((p) => p.tasks.filter((t) => !gone.has(t.id))),
        ...decisions.flatMap((d) => d.place),
      ];
      for (const n of c.nodes) {
        const on = running.filter((t) => t.nodeId === n.id);
        const ports = on.map((t) => t.port);
        assert.equal(new Set(ports).size, ports.length, `two running tasks on one port of ${n.id}: ${ports}`);
        if (n.status !== 'ready') continue;
        assert.ok(on.reduce((s, t) => s + resources.get(t.deploymentId)!.cpuMillis, 0) <= n.cpuMillis, `${n.id} over its CPU`);
        assert.ok(on.reduce((s, t) => s + resources.get(t.deploymentId)!.memoryMb, 0) <= n.memoryMb, `${n.id} over its memory`);
      }
      for (const p of decisions.flatMap((d) => d.place)) {
        const n = c.nodes.find((x) => x.id === p.nodeId)!;
        assert.equal(n.status, 'ready', `placed on a ${n.status} node`);
        assert.ok(p.port >= n.portMin && p.port <= n.portMax);
      }
    }),
    RUNS,
  );
});

const routable = (p: ProjectSnapshot, t: TaskSnap) => t.observed === 'healthy' && !t.retirement && p.nodes.get(t.nodeId) !== 'down';

test('never cut over before every new task is healthy: a cutover has `replicas` routable tasks of a deploying deployment', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      pass(c).forEach((d, k) => {
        if (!d.live) return;
        const p = c.projects[k]!;
        const dep = p.deployments.find((x) => x.id === d.live)!;
        assert.equal(dep.status, 'deploying');
        const healthy = p.tasks.filter((t) => t.deploymentId === dep.id && routable(p, t)).length;
        assert.ok(healthy >= dep.replicas, `cut over with ${healthy} of ${dep.replicas} healthy`);
      });
    }),
    RUNS,
  );
});

test('a rollout never leaves the app fewer routable tasks than before (or than its replica count)', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      pass(c).forEach((d, k) => {
        const p = c.projects[k]!;
        const before = p.liveDeploymentId;
        if (!before) return;
        const out = new Set([...d.retireTasks.map((t) => t.id), ...d.stopTasks.map((t) => t.id), ...d.lostTasks.map((t) => t.id)]);
        const serving = (id: string, drop: boolean) =>
          p.tasks.filter((t) => t.deploymentId === id && routable(p, t) && !(drop && out.has(t.id))).length;
        const liveAfter = d.live ?? before;
        const replicas = p.deployments.find((x) => x.id === liveAfter)!.replicas;
        const after = serving(liveAfter, true);
        assert.ok(after >= Math.min(serving(before, false), replicas), `app served by ${serving(before, false)} task(s) before, ${after} after`);
      });
    }),
    RUNS,
  );
});

test('a routable task of a live or standby deployment is never stopped at once: it retires first', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      pass(c).forEach((d, k) => {
        const p = c.projects[k]!;
        for (const { id } of d.stopTasks) {
          const t = p.tasks.find((x) => x.id === id)!;
          const dep = p.deployments.find((x) => x.id === t.deploymentId)!;
          if (routable(p, t) && !dep.retirement) assert.ok(['pending', 'deploying'].includes(dep.status), `${id} of a ${dep.status} deployment stopped while routable`);
        }
      });
    }),
    RUNS,
  );
});

test('a retired task stops only after every live proxy acknowledged its epoch, or after the timeout', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      pass(c).forEach((d, k) => {
        const p = c.projects[k]!;
        for (const { id } of d.stopTasks) {
          const t = p.tasks.find((x) => x.id === id)!;
          const dep = p.deployments.find((x) => x.id === t.deploymentId)!;
          // Stopped with its whole deployment, or on its own.
          const r = d.retired.includes(dep.id) ? dep.retirement : t.retirement;
          if (!r) continue;
          const lagging = c.proxies.filter((x) => NOW - x.lastSeenAt < 10_000 && x.epoch < r.epoch);
          assert.ok(lagging.length === 0 || NOW - r.requestedAt > 30_000, `${id} stopped while ${lagging.map((x) => x.id)} lag`);
        }
      });
    }),
    RUNS,
  );
});

test('deterministic: the same input gives the same decisions, whatever the order of nodes, deployments, tasks and proxies', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      const shuffled: Cluster = {
        nodes: [...c.nodes].reverse(),
        projects: c.projects.map((p) => ({ ...p, deployments: [...p.deployments].reverse(), tasks: [...p.tasks].reverse() })),
        proxies: [...c.proxies].reverse(),
      };
      assert.deepEqual(pass(c), pass(c));
      assert.deepEqual(pass(c), pass(shuffled));
    }),
    RUNS,
  );
});

test('wakeAt is never in the past, and is set whenever a deadline or an acknowledgement is pending', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      pass(c).forEach((d, k) => {
        const p = c.projects[k]!;
        if (d.wakeAt !== null) assert.ok(d.wakeAt > NOW, `wakeAt ${d.wakeAt - NOW} ms from now`);
        const finalStatus = (x: DeploymentSnap) => d.deployments.find((u) => u.id === x.id)?.status ?? x.status;
        const stopped = new Set([...d.stopTasks, ...d.lostTasks].map((t) => t.id));
        const pending =
          p.deployments.some((x) => ['pending', 'deploying'].includes(finalStatus(x))) ||
          p.deployments.some((x) => x.retirement && !d.retired.includes(x.id)) ||
          p.tasks.some((t) => t.retirement && !stopped.has(t.id)) ||
          d.retireTasks.length > 0 ||
          d.retireDeployments.length > 0;
        if (pending) assert.notEqual(d.wakeAt, null, 'something is pending but no wake-up is asked for');
      });
    }),
    RUNS,
  );
});

test('every task decision names the node its task is on (applyDecisions locks those nodes first)', () => {
  fc.assert(
    fc.property(clusterArb, (c) => {
      pass(c).forEach((d, k) => {
        const on = new Map(c.projects[k]!.tasks.map((t) => [t.id, t.nodeId]));
        for (const t of [...d.retireTasks, ...d.stopTasks, ...d.lostTasks]) assert.equal(t.nodeId, on.get(t.id), `task ${t.id}`);
      });
    }),
    RUNS,
  );
});
