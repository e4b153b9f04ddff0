import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployment, evaluate, node, proxy, task, NOW } from '../../../test/support/reconciler.js';
import type { Scenario } from '../../../test/support/reconciler.js';

const live = deployment('d1');
const deploying = (over = {}) => deployment('d2', { status: 'deploying', createdAt: NOW - 10_000, deadlineAt: NOW + 110_000, ...over });
const starting = (id: string, port: number, over = {}) => task(id, 'd2', 'n1', port, { observed: 'starting', ...over });

test('a steady project gets no decisions and no wake-up', () => {
  const d = evaluate({ deployments: [live, deployment('d0', { status: 'standby', createdAt: NOW - 90_000 })], tasks: [task('t1', 'd1', 'n1', 20000), task('t0', 'd0', 'n1', 20001)] });
  assert.deepEqual(d, {
    projectId: 'p1', place: [], retireTasks: [], stopTasks: [], lostTasks: [], deployments: [], live: null,
    retireDeployments: [], retired: [], events: [], warnings: [], routingChanged: false, wakeAt: null,
  });
});

test('a deploying deployment waits for its deadline while its tasks start', () => {
  const d = evaluate({ deployments: [live, deploying()], tasks: [task('t1', 'd1', 'n1', 20000), starting('t2', 20001)] });
  assert.deepEqual([d.deployments, d.place, d.routingChanged], [[], [], false]);
  assert.equal(d.wakeAt, NOW + 110_001);
});

test('cutover once every new task is healthy: previous live to standby, standby superseded and retired after the epoch', () => {
  const s: Scenario = {
    deployments: [deployment('d0', { status: 'standby', createdAt: NOW - 90_000 }), live, deploying()],
    tasks: [task('t0', 'd0', 'n1', 20000), task('t1', 'd1', 'n1', 20001), task('t2', 'd2', 'n1', 20002)],
  };
  const d = evaluate(s);
  assert.equal(d.live, 'd2');
  assert.deepEqual(d.deployments, [{ id: 'd0', status: 'superseded' }, { id: 'd1', status: 'standby' }, { id: 'd2', status: 'live' }]);
  assert.deepEqual(d.retireDeployments, ['d0']);
  assert.deepEqual(d.stopTasks, [], 'the superseded tasks stop only after the proxies acknowledge');
  assert.equal(d.routingChanged, true);
  assert.deepEqual(d.events, [{ kind: 'deployment.live', data: { deploymentId: 'd2', previous: 'd1' } }]);
  assert.equal(d.wakeAt, NOW + 1000, 'looks again for the acknowledgements');
});

test('no cutover while a new task is not healthy, is retiring, or is on a down node', () => {
  const two = deploying({ replicas: 2 });
  const base = [task('t1', 'd1', 'n1', 20000), task('t2', 'd2', 'n1', 20001)];
  for (const other of [
    starting('t3', 20002),
    task('t3', 'd2', 'n1', 20002, { retirement: { epoch: 9, requestedAt: NOW } }),
    task('t3', 'd2', 'n9', 20000),
  ]) {
    const d = evaluate({ deployments: [live, two], tasks: [...base, other], status: { n9: 'down' } });
    assert.equal(d.live, null, JSON.stringify(other));
  }
});

test('a deployment older than the live one is superseded when it becomes healthy, never cut over', () => {
  const older = deploying({ createdAt: NOW - 120_000 });
  const d = evaluate({ deployments: [older, live], tasks: [task('t1', 'd1', 'n1', 20000), task('t2', 'd2', 'n1', 20001)] });
  assert.equal(d.live, null);
  assert.deepEqual(d.deployments, [{ id: 'd2', status: 'superseded', reason: 'a newer deployment went live first' }]);
  assert.deepEqual(d.retireDeployments, ['d2']);
});

test('two deployments healthy together go live in order: the newest ends live, the older one standby', () => {
  const d3 = deployment('d3', { status: 'deploying', createdAt: NOW - 5000 });
  const d = evaluate({ deployments: [live, deploying(), d3], tasks: [task('t1', 'd1', 'n1', 20000), task('t2', 'd2', 'n1', 20001), task('t3', 'd3', 'n1', 20002)] });
  assert.equal(d.live, 'd3');
  assert.deepEqual(d.deployments, [{ id: 'd1', status: 'superseded' }, { id: 'd2', status: 'standby' }, { id: 'd3', status: 'live' }]);
  assert.deepEqual(d.retireDeployments, ['d1']);
});

test('past its deadline a deployment fails with the reason the CLI prints, and its tasks stop; the live one stays', () => {
  const tasks = [task('t1', 'd1', 'n1', 20000), starting('t2', 20001, { observed: 'exited', exitCode: 3, restarts: 1, message: 'exited with code 3' })];
  const d = evaluate({ deployments: [live, deploying({ deadlineAt: NOW - 1 })], tasks });
  const reason = 'not healthy before its deadline: 1 of 1 task(s) not healthy (task t2 exited, last exit code 3, 1 restart(s): exited with code 3)';
  assert.deepEqual(d.deployments, [{ id: 'd2', status: 'failed', reason }]);
  assert.deepEqual(d.stopTasks, [{ id: 't2', nodeId: 'n1' }]);
  assert.deepEqual(d.events, [{ kind: 'deployment.failed', data: { deploymentId: 'd2', reason } }]);
  assert.equal(d.live, null);
});

test('a deployment that never got a task fails at its deadline with its capacity reason', () => {
  const d = evaluate({ deployments: [deploying({ status: 'pending', deadlineAt: NOW - 1, statusReason: 'waiting for capacity for 1 task(s): x' })], nodes: [] });
  assert.deepEqual(d.deployments[0]!.reason, 'not healthy before its deadline: no task was placed (waiting for capacity for 1 task(s): x)');
});

test('the deadline is not missed by a millisecond: not failed at the deadline, failed just after', () => {
  const s: Scenario = { deployments: [deploying({ deadlineAt: NOW })], tasks: [starting('t2', 20000)] };
  assert.deepEqual(evaluate(s).deployments, []);
  assert.equal(evaluate({ ...s, now: NOW + 1 }).deployments[0]!.status, 'failed');
});

test('crash loop: a task restarted 3 times without ever being healthy fails its deployment at once, with the last exit', () => {
  // Restarting: the agent no longer reports the exit code, the last one is kept.
  const looping = starting('t2', 20000, { restarts: 3, lastExitCode: 7, lastExitMessage: 'exited with code 7' });
  const d = evaluate({ deployments: [live, deploying()], tasks: [task('t1', 'd1', 'n1', 20001), looping] });
  assert.deepEqual(d.deployments, [{
    id: 'd2', status: 'failed',
    reason: 'crash loop: task t2 restarted 3 time(s) without ever becoming healthy, last exit code 7: exited with code 7',
  }]);
  assert.deepEqual(d.stopTasks, [{ id: 't2', nodeId: 'n1' }]);
  assert.equal(d.wakeAt, null);
});

test('past the deadline a crash loop gets the deadline reason, as before crash loops were detected', () => {
  const looping = starting('t2', 20000, { restarts: 3, lastExitCode: 7, lastExitMessage: 'exited with code 7' });
  const d = evaluate({ deployments: [deploying({ deadlineAt: NOW - 1 })], tasks: [looping] });
  assert.match(d.deployments[0]!.reason!, /^not healthy before its deadline: 1 of 1 task\(s\) not healthy \(task t2 starting, last exit code 7, 3 restart\(s\): exited with code 7\)$/);
});

test('no crash loop below the restart limit, nor for a task that was healthy before', () => {
  for (const t of [starting('t2', 20000, { restarts: 2 }), starting('t2', 20000, { restarts: 5, everHealthy: true })]) {
    assert.deepEqual(evaluate({ deployments: [deploying()], tasks: [t] }).deployments, [], JSON.stringify(t));
  }
});

test('tasks on a down node keep routing until their replacements are healthy, then are lost', () => {
  const d = evaluate({ deployments: [live], tasks: [task('t1', 'd1', 'n9', 20000)], status: { n9: 'down' } });
  assert.deepEqual(d.lostTasks, [], 'a silent agent may still have answering apps: nothing replaces them yet');
  assert.deepEqual(d.place, [{ deploymentId: 'd1', nodeId: 'n1', port: 20000 }]);
  assert.equal(d.routingChanged, false);
  // The replacement starts: the old task still serves.
  const starting = evaluate({ deployments: [live], tasks: [task('t1', 'd1', 'n9', 20000), task('t2', 'd1', 'n1', 20000, { observed: 'starting' })], status: { n9: 'down' } });
  assert.deepEqual([starting.lostTasks, starting.place], [[], []]);
  // The replacement is healthy: the task on the down node is lost and leaves routing.
  const healthy = evaluate({ deployments: [live], tasks: [task('t1', 'd1', 'n9', 20000), task('t2', 'd1', 'n1', 20000)], status: { n9: 'down' } });
  assert.deepEqual(healthy.lostTasks, [{ id: 't1', nodeId: 'n9' }]);
  assert.deepEqual(healthy.place, []);
  assert.equal(healthy.routingChanged, true);
});

test('the node comes back before its replacement is healthy: one of the two is retired, the unhealthy one', () => {
  const d = evaluate({ deployments: [live], tasks: [task('t1', 'd1', 'n9', 20000), task('t2', 'd1', 'n1', 20000, { observed: 'starting' })], nodes: [node('n1'), node('n9')] });
  assert.deepEqual([d.lostTasks, d.retireTasks], [[], [{ id: 't2', nodeId: 'n1' }]]);
});

test('a superseded deployment on a down node is lost at once', () => {
  const old = deployment('d0', { status: 'superseded', createdAt: NOW - 90_000 });
  const d = evaluate({ deployments: [old, live], tasks: [task('t0', 'd0', 'n9', 20000), task('t1', 'd1', 'n1', 20000)], status: { n9: 'down' } });
  assert.deepEqual(d.lostTasks, [{ id: 't0', nodeId: 'n9' }]);
});

const retiring = (epoch: number, requestedAt = NOW - 2000) => ({ retirement: { epoch, requestedAt } });

test('a retired task stops once every live proxy serves its epoch; a proxy gone silent does not count', () => {
  const tasks = [task('t1', 'd1', 'n1', 20000), task('t9', 'd1', 'n1', 20001, retiring(7))];
  const waiting = evaluate({ deployments: [live], tasks, proxies: [proxy('a', 7), proxy('b', 6)] });
  assert.deepEqual(waiting.stopTasks, []);
  assert.equal(waiting.wakeAt, NOW + 1000);
  const acked = evaluate({ deployments: [live], tasks, proxies: [proxy('a', 7), proxy('b', 6, NOW - 10_000)] });
  assert.deepEqual(acked.stopTasks, [{ id: 't9', nodeId: 'n1' }]);
  assert.deepEqual([acked.warnings, acked.wakeAt, acked.routingChanged], [[], null, false]);
});

test('a retired task stops after the ack timeout anyway, and the log names the lagging proxy', () => {
  const tasks = [task('t1', 'd1', 'n1', 20000), task('t9', 'd1', 'n1', 20001, retiring(7, NOW - 30_001))];
  const d = evaluate({ deployments: [live], tasks, proxies: [proxy('b', 6)] });
  assert.deepEqual(d.stopTasks, [{ id: 't9', nodeId: 'n1' }]);
  assert.deepEqual(d.warnings, ["stopping tasks t9 without every proxy's acknowledgement of epoch 7 after 30000 ms; lagging: b at epoch 6"]);
  const early = evaluate({ deployments: [live], tasks: [tasks[0]!, task('t9', 'd1', 'n1', 20001, retiring(7, NOW - 29_500))], proxies: [proxy('b', 6)] });
  assert.equal(early.wakeAt, NOW + 501, 'wakes at the timeout when it comes before the next poll');
});

test('a retiring deployment stops all its tasks after acknowledgement; on timeout an event names the lagging proxies', () => {
  const old = deployment('d0', { status: 'superseded', createdAt: NOW - 90_000, ...retiring(4, NOW - 31_000) });
  const s: Scenario = { deployments: [old, live], tasks: [task('t0', 'd0', 'n1', 20000), task('t1', 'd1', 'n1', 20001)], proxies: [proxy('b', 3)] };
  const d = evaluate(s);
  assert.deepEqual([d.retired, d.stopTasks], [['d0'], [{ id: 't0', nodeId: 'n1' }]]);
  assert.deepEqual(d.events, [{ kind: 'deployment.retire_timeout', data: { deploymentId: 'd0', epoch: 4, lagging: [{ id: 'b', epoch: 3 }] } }]);
  const waiting = evaluate({ ...s, deployments: [{ ...old, ...retiring(4) }, live] });
  assert.deepEqual([waiting.retired, waiting.stopTasks], [[], []]);
});

test('scale down retires unhealthy tasks first, then the newest; a retiring task counts for no replica', () => {
  const tasks = [
    task('ta', 'd1', 'n1', 20000, { createdAt: NOW - 3000 }),
    task('tb', 'd1', 'n1', 20001, { createdAt: NOW - 2000 }),
    task('tc', 'd1', 'n1', 20002, { createdAt: NOW - 1000 }),
    task('td', 'd1', 'n1', 20003, { createdAt: NOW - 4000, observed: 'unhealthy' }),
    task('te', 'd1', 'n1', 20004, retiring(3)),
  ];
  const d = evaluate({ deployments: [deployment('d1', { replicas: 2 })], tasks, proxies: [proxy('a', 2)] });
  assert.deepEqual(d.retireTasks, [{ id: 'tc', nodeId: 'n1' }, { id: 'td', nodeId: 'n1' }]);
  assert.equal(d.routingChanged, true);
});

test('a retiring task holds its port and capacity but counts for no replica, so a replacement goes next to it', () => {
  const tight = node('n1', { portMax: 20001 });
  const d = evaluate({ deployments: [live], tasks: [task('t0', 'd1', 'n1', 20000, retiring(3))], nodes: [tight], proxies: [proxy('a', 2)] });
  assert.deepEqual(d.place, [{ deploymentId: 'd1', nodeId: 'n1', port: 20001 }]);
  assert.deepEqual(d.retireTasks, []);
});

test('drain: a replacement is placed elsewhere, and the drained task retires only once the replacement is healthy', () => {
  const s: Scenario = { deployments: [live], tasks: [task('ta', 'd1', 'nd', 20000)], nodes: [node('n1')], status: { nd: 'draining' } };
  const first = evaluate(s);
  assert.deepEqual([first.place, first.retireTasks], [[{ deploymentId: 'd1', nodeId: 'n1', port: 20000 }], []]);
  const starting = evaluate({ ...s, tasks: [...s.tasks!, task('tr', 'd1', 'n1', 20000, { observed: 'starting' })] });
  assert.deepEqual([starting.place, starting.retireTasks], [[], []]);
  const healthy = evaluate({ ...s, tasks: [...s.tasks!, task('tr', 'd1', 'n1', 20000)] });
  assert.deepEqual([healthy.place, healthy.retireTasks], [[], [{ id: 'ta', nodeId: 'nd' }]]);
});

test('drain plus scale-down never retires the last routable task of a deployment', () => {
  // A on the draining node; C, its replacement, retired by a scale-down: A keeps serving and D is placed.
  const tasks = [task('tA', 'd1', 'nd', 20000), task('tC', 'd1', 'n1', 20000, retiring(9))];
  const d = evaluate({ deployments: [live], tasks, status: { nd: 'draining' }, proxies: [proxy('a', 8)] });
  assert.deepEqual(d.retireTasks, []);
  assert.deepEqual(d.place, [{ deploymentId: 'd1', nodeId: 'n1', port: 20001 }]);
});

test('with no room elsewhere a drain waits, says why, and stops nothing', () => {
  const d = evaluate({ deployments: [live], tasks: [task('ta', 'd1', 'nd', 20000)], nodes: [], status: { nd: 'draining' } });
  assert.deepEqual([d.retireTasks, d.stopTasks, d.place], [[], [], []]);
  assert.match(d.deployments[0]!.reason!, /^waiting for capacity for 1 task\(s\): no ready node/);
});

test('a waiting-for-capacity reason is cleared once the replicas are placed, other reasons are kept', () => {
  const waiting = deployment('d1', { statusReason: 'waiting for capacity for 1 task(s): no ready node: start an agent with a join token' });
  const d = evaluate({ deployments: [waiting] });
  assert.deepEqual(d.deployments, [{ id: 'd1', reason: null }]);
  const standby = deployment('d0', { status: 'standby', statusReason: 'something else' });
  assert.deepEqual(evaluate({ deployments: [standby], tasks: [task('t0', 'd0', 'n1', 20000)] }).deployments, []);
});

test('the same input gives the same decisions whatever the order of its rows', () => {
  const s: Scenario = {
    deployments: [deployment('d0', { status: 'standby', createdAt: NOW - 90_000 }), live, deploying({ replicas: 3 }), deployment('d3', { status: 'pending', createdAt: NOW - 1000, replicas: 2 })],
    tasks: [task('t0', 'd0', 'n1', 20000), task('t1', 'd1', 'n2', 20000), task('t2', 'd2', 'n1', 20001), task('t3', 'd2', 'n9', 20000), task('t4', 'd2', 'n2', 20001, retiring(3))],
    nodes: [node('n1'), node('n2'), node('n3')],
    status: { n9: 'down' },
    proxies: [proxy('a', 3), proxy('b', 2)],
  };
  const shuffled: Scenario = { ...s, deployments: [...s.deployments].reverse(), tasks: [...s.tasks!].reverse(), nodes: [...s.nodes!].reverse(), proxies: [...s.proxies!].reverse() };
  assert.deepEqual(evaluate(s), evaluate(s));
  assert.deepEqual(evaluate(s), evaluate(shuffled));
});
