import type { Evaluation } from './evaluation.js';
import type { DeploymentSnap, TaskSnap } from './types.js';

/**
 * A pending or deploying deployment fails when it is past its deadline, or at once when one of its
 * tasks is in a crash loop (restarted `crashLoopRestarts` times without ever being healthy: waiting
 * for the deadline would only delay the same answer). Its tasks stop; the live deployment stays live.
 * The reasons are what `zectre deploy` prints: keep their wording.
 */
export function failStuck(ev: Evaluation): void {
  for (const d of ev.deployments) {
    const status = ev.statusOf(d);
    if (status !== 'pending' && status !== 'deploying') continue;
    const tasks = ev.running(d);
    const looping = tasks.filter((t) => !t.retirement && !t.everHealthy && t.restarts >= ev.config.crashLoopRestarts);
    // Past the deadline, the deadline's reason (it names every unhealthy task, the looping ones too).
    if (ev.now > d.deadlineAt) fail(ev, d, overdueReason(ev.reasonOf(d), tasks));
    else if (looping.length) fail(ev, d, crashLoopReason(looping));
    else ev.wake(d.deadlineAt + 1);
  }
}

function fail(ev: Evaluation, d: DeploymentSnap, reason: string): void {
  ev.update(d, { status: 'failed', reason });
  ev.out.events.push({ kind: 'deployment.failed', data: { deploymentId: d.id, reason } });
  // Retiring tasks are out of routing but may still get requests from a lagging proxy: they keep
  // their stop after acknowledgement.
  for (const t of ev.running(d)) if (!t.retirement) ev.stop(t);
}

const byAge = (a: TaskSnap, b: TaskSnap) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

function lastExit(t: TaskSnap): { code: number | null; message: string | null } {
  return t.exitCode !== null ? { code: t.exitCode, message: t.message } : { code: t.lastExitCode, message: t.message ?? t.lastExitMessage };
}

function crashLoopReason(looping: TaskSnap[]): string {
  const t = [...looping].sort(byAge)[0]!;
  const { code, message } = lastExit(t);
  const exit = code === null ? '' : `, last exit code ${code}`;
  const others = looping.length > 1 ? ` (and ${looping.length - 1} more task(s))` : '';
  return `crash loop: task ${t.id} restarted ${t.restarts} time(s) without ever becoming healthy${exit}${message ? `: ${message}` : ''}${others}`;
}

function overdueReason(pendingReason: string | null, tasks: TaskSnap[]): string {
  if (tasks.length === 0) return `not healthy before its deadline: no task was placed (${pendingReason ?? 'no capacity'})`;
  const unhealthy = [...tasks].sort(byAge).filter((t) => t.observed !== 'healthy');
  const detail = unhealthy
    .slice(0, 3)
    .map((t) => {
      const { code, message } = lastExit(t);
      const exit = code === null ? '' : `, last exit code ${code}`;
      return `task ${t.id} ${t.observed}${exit}, ${t.restarts} restart(s)${message ? `: ${message}` : ''}`;
    })
    .join('; ');
  return `not healthy before its deadline: ${unhealthy.length} of ${tasks.length} task(s) not healthy (${detail})`;
}
