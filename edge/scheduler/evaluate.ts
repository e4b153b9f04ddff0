import type { Deps } from '../deps.js';
import type { Env } from '../env.js';
import { HttpError } from '../http.js';
import type { Evaluation } from './evaluation-queue.js';

/**
 * Raises an evaluation with the Scheduler Durable Object and waits for the pass that covers it:
 * afterwards the database holds its decisions (an API answer can show the placed tasks). Errors of
 * the pass come back as they would have here (a 503 while the database is unreachable).
 */
export async function evaluate(env: Env, evaluation: Partial<Evaluation>): Promise<void> {
  const ns = env.SCHEDULER;
  const res = await ns.get(ns.idFromName('cluster')).fetch('https://scheduler/evaluate', {
    method: 'POST',
    body: JSON.stringify({ projects: evaluation.projects ?? [], sweep: evaluation.sweep ?? false }),
  });
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  throw new HttpError(res.status, body?.error?.code ?? 'scheduler_failed', body?.error?.message ?? `the scheduler answered ${res.status}`);
}

/**
 * For API handlers: the request's own connections are closed first, so a request that waits for a
 * pass (which may queue behind others) holds no database connection meanwhile (issue 10 point 5).
 */
export async function evaluateFor(deps: Deps, evaluation: Partial<Evaluation>): Promise<void> {
  await deps.releaseDb();
  await evaluate(deps.env, evaluation);
}

/** Wakes the scheduler (and through it every node shard) without waiting for a pass. */
export async function wakeScheduler(env: Env): Promise<void> {
  const ns = env.SCHEDULER;
  const res = await ns.get(ns.idFromName('cluster')).fetch('https://scheduler/wake', { method: 'POST' });
  await res.body?.cancel();
}
