import type { Deployment, DeploymentStatus, TaskView } from '../protocol/index.js';
import { perNode } from './node-bars.js';

/** Statuses after which waiting is over (standby/superseded: it went live and was replaced already). */
export function isSettled(status: DeploymentStatus): boolean {
  return status === 'live' || status === 'failed' || status === 'standby' || status === 'superseded';
}

/** What changed between two polls of a deployment; `prev` is null on the first poll. */
export function progressLines(prev: Deployment | null, next: Deployment): string[] {
  const lines: string[] = [];
  if (!prev || summary(prev) !== summary(next)) lines.push(summary(next));
  const before = new Map((prev?.tasks ?? []).map((task) => [task.id, task]));
  for (const task of next.tasks) {
    const old = before.get(task.id);
    const was = old ? taskState(old) : null;
    const now = taskState(task);
    if (was === now) continue;
    lines.push(`task ${task.id} on ${task.nodeName}: ${was ? `${was} -> ` : ''}${now}${taskDetail(task)}`);
  }
  return lines;
}

/** Why each task of a failed deployment is not running, one line per task. */
export function failureLines(deployment: Deployment): string[] {
  return deployment.tasks.map(
    (task) => `  task ${task.id} on ${task.nodeName}: ${taskState(task)}${taskDetail(task) || ' (no message)'}`,
  );
}

/** `deploying d…: 1/2 tasks healthy (local 1/1, b 0/1)`: the overall count, then per node. */
function summary(deployment: Deployment): string {
  const running = deployment.tasks.filter((task) => task.desiredState === 'running');
  const healthy = running.filter((task) => task.observedState === 'healthy').length;
  const nodes = [...perNode(deployment)].map(([node, c]) => `${node} ${c.healthy}/${c.total}`);
  return `${deployment.status} ${deployment.id}: ${healthy}/${deployment.replicas} tasks healthy${nodes.length ? ` (${nodes.join(', ')})` : ''}`;
}

function taskState(task: TaskView): string {
  return task.restarts > 0 ? `${task.observedState} (restarts: ${task.restarts})` : task.observedState;
}

function taskDetail(task: TaskView): string {
  const parts = [task.exitCode === null ? null : `exit code ${task.exitCode}`, task.message].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(': ')})` : '';
}
