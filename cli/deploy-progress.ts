import type { Deployment, DeploymentStatus, TaskView } from '../protocol/index.js';
import { perNode } from './node-bars.js';

/** Statuses after which waiting is over (standby/superseded: it went live and was replaced already). */
export function isSettled(status: DeploymentStatus): boolean {
  return status === 'live' || status === 'failed' || status === 'standby' || status === 'superseded';
}

/**
 * What changed between two polls of a deployment; `prev` is null on the first poll. Task lines come
 * first: the summary they lead to ("live …: 1/1 tasks healthy") must not read as if it came before.
 */
export function progressLines(prev: Deployment | null, next: Deployment): string[] {
  const lines: string[] = [];
  const before = new Map((prev?.tasks ?? []).map((task) => [task.id, task]));
  for (const task of next.tasks) {
    const line = taskChange(before.get(task.id), task);
    if (line) lines.push(`task ${task.id} on ${task.nodeName}: ${line}${taskDetail(task)}`);
  }
  if (!prev || summary(prev) !== summary(next)) lines.push(summary(next));
  return lines;
}

/** `starting -> healthy`, `exited again` (it restarted and exited once more), or null when nothing changed. */
function taskChange(old: TaskView | undefined, task: TaskView): string | null {
  if (!old) return task.observedState;
  if (old.observedState !== task.observedState) return `${old.observedState} -> ${task.observedState}`;
  if (old.restarts !== task.restarts) return `${task.observedState} again`;
  return null;
}

/** Why each task of a failed deployment is not running, one line per task. */
export function failureLines(deployment: Deployment): string[] {
  return deployment.tasks.map(
    (task) => `  task ${task.id} on ${task.nodeName}: ${task.observedState}${taskDetail(task) || ' (no message)'}`,
  );
}

/**
 * `deploying d…: 1/2 tasks healthy (local 1/1, b 0/1)`: the overall count, then per node. Retiring
 * tasks (a scale-down's, out of routing, stopping once the proxies confirm) count for no replica.
 */
function summary(deployment: Deployment): string {
  const running = deployment.tasks.filter((task) => task.desiredState === 'running' && !task.retiring);
  const healthy = running.filter((task) => task.observedState === 'healthy').length;
  const nodes = [...perNode(deployment)].map(([node, c]) => `${node} ${c.healthy}/${c.total}`);
  return `${deployment.status} ${deployment.id}: ${healthy}/${deployment.replicas} tasks healthy${nodes.length ? ` (${nodes.join(', ')})` : ''}`;
}

/** ` (restarted 2 times; exit code 1: message)`, or '' when there is nothing to say. */
function taskDetail(task: TaskView): string {
  const exit = [task.exitCode === null ? null : `exit code ${task.exitCode}`, task.message].filter(Boolean).join(': ');
  const restarts = task.restarts > 0 ? `restarted ${task.restarts} time${task.restarts === 1 ? '' : 's'}` : '';
  const parts = [restarts, exit].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}
