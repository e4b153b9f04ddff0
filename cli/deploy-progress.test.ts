import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Deployment, TaskView } from '../protocol/index.js';
import { progressLines } from './deploy-progress.js';

const task = (id: string, nodeName: string, observedState: TaskView['observedState'], desiredState: TaskView['desiredState'] = 'running'): TaskView => ({
  id, nodeId: `n-${nodeName}`, nodeName, port: 20000, desiredState, observedState, restarts: 0, exitCode: null, message: null, updatedAt: '2026-01-01T00:00:00.000Z', retiring: false,
});
const deployment = (tasks: TaskView[]): Deployment => ({
  id: 'd1', project: 'p', status: 'deploying', statusReason: null, artifact: 'sha256:00', command: 'node server.js', replicas: 3,
  createdAt: '', createdBy: null, deadlineAt: '', liveAt: null, urls: { app: '', preview: '' }, tasks, routing: null,
});

test('rollout progress counts healthy tasks overall and per node, ignoring stopped ones', () => {
  const d = deployment([task('t1', 'a', 'healthy'), task('t2', 'a', 'starting'), task('t3', 'b', 'healthy'), task('t0', 'b', 'stopped', 'stopped')]);
  assert.equal(progressLines(null, d).at(-1), 'deploying d1: 2/3 tasks healthy (a 1/2, b 1/1)');
});

test('the task line comes before the summary it leads to: starting -> healthy, then live 1/1', () => {
  const starting = { ...deployment([task('t1', 'a', 'starting')]), replicas: 1 };
  const live = { ...deployment([task('t1', 'a', 'healthy')]), replicas: 1, status: 'live' as const };
  assert.deepEqual(progressLines(starting, live), ['task t1 on a: starting -> healthy', 'live d1: 1/1 tasks healthy (a 1/1)']);
});

test('a scale-down counts the retiring tasks for no replica: 1/1, never 3/1', () => {
  const retiring = (id: string) => ({ ...task(id, 'a', 'healthy'), retiring: true });
  const d = { ...deployment([task('t1', 'a', 'healthy'), retiring('t2'), retiring('t3')]), replicas: 1, status: 'live' as const };
  assert.equal(progressLines(null, d).at(-1), 'live d1: 1/1 tasks healthy (a 1/1)');
});

test('a task that exits again after a restart says so once, with its restarts and exit code', () => {
  const exited = (restarts: number) => ({ ...task('t1', 'a', 'exited'), restarts, exitCode: 1 });
  const lines = progressLines(deployment([exited(0)]), deployment([exited(1)]));
  assert.deepEqual(lines, ['task t1 on a: exited again (restarted 1 time; exit code 1)']);
  assert.deepEqual(progressLines(deployment([exited(1)]), deployment([{ ...exited(1), observedState: 'starting' }])), [
    'task t1 on a: exited -> starting (restarted 1 time; exit code 1)',
  ]);
});
