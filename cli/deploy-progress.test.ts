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
  assert.equal(progressLines(null, d)[0], 'deploying d1: 2/3 tasks healthy (a 1/2, b 1/1)');
});
