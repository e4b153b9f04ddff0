/** Waiting for a release (deploy, rollback, env change) to settle, with progress, and saying how it ended. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment, LogPage } from '../protocol/index.js';
import type { ApiClient } from './api-client.js';
import { failureLines, isSettled, progressLines } from './deploy-progress.js';
import { CliError, ConnectionError } from './errors.js';
import { NodeBars } from './node-bars.js';

const POLL_MS = 250;
/** Grace after the deployment's own deadline, for the server to notice and mark it failed. */
const DEADLINE_GRACE_MS = 30_000;
const FAILURE_LOG_LINES = 20;
/** How long "live" waits for every proxy to serve the new routes (the scheduler's own acknowledgement timeout is 30 s). */
const PROXY_ACK_WAIT_MS = 35_000;

export type Say = (line: string) => void;

/**
 * The scheduler's status reason while tasks cannot be placed (edge/scheduler/reconciler/replicas.ts):
 * "waiting for capacity for N task(s): no node has room for …".
 */
const WAITING_FOR_CAPACITY = /^waiting for capacity/;

export interface WatchOptions {
  bars: boolean;
  done?: (d: Deployment) => boolean;
  giveUpAt?: number;
  /**
   * When the scheduler reports it cannot place tasks: 'fail' (the default) exits at once with its
   * reason, instead of waiting out the deadline in silence; 'wait' (--wait) shows it and keeps waiting.
   */
  capacity?: 'fail' | 'wait';
  /** What else the user can do about capacity, e.g. "ask for less with --cpu/--memory". */
  capacityHint?: string;
}

/** Polls until `done` holds for the deployment (or it settles), showing per-node bars on a terminal and lines otherwise. */
export async function watchDeployment(client: ApiClient, first: Deployment, say: Say, opts: WatchOptions): Promise<Deployment> {
  const done = opts.done ?? ((d: Deployment) => isSettled(d.status));
  const giveUpAt = opts.giveUpAt ?? Date.parse(first.deadlineAt) + DEADLINE_GRACE_MS;
  const bars = opts.bars ? new NodeBars() : null;
  let shown: Deployment | null = null;
  let current = first;
  let offline = false;
  try {
    for (;;) {
      if (bars) bars.update(current);
      else for (const line of progressLines(shown, current)) say(line);
      if (current.statusReason !== shown?.statusReason && current.statusReason && WAITING_FOR_CAPACITY.test(current.statusReason)) {
        if (opts.capacity !== 'wait') throw cannotPlace(current, opts.capacityHint);
        say(current.statusReason);
      }
      shown = current;
      if (done(current) || current.status === 'failed') return current;
      if (Date.now() > giveUpAt) {
        throw new CliError(`gave up waiting: deployment ${current.id} is ${current.status}${current.statusReason ? ` (${current.statusReason})` : ''}`, 1, 'timeout');
      }
      await sleep(POLL_MS);
      try {
        current = await client.get<Deployment>(`/api/v1/deployments/${encodeURIComponent(first.id)}`);
        offline = false;
      } catch (err) {
        // A control-plane restart should not abort the wait; the deadline still bounds it.
        if (!(err instanceof ConnectionError)) throw err;
        if (!offline) say(`${err.message}; retrying`);
        offline = true;
      }
    }
  } finally {
    bars?.stop();
  }
}

function cannotPlace(d: Deployment, hint: string | undefined): CliError {
  const until = d.status === 'live' ? '' : ` until its deadline (${d.deadlineAt})`;
  return new CliError(
    `deployment ${d.id} cannot place every task: ${d.statusReason}. The scheduler keeps trying${until}; ` +
      `pass --wait to wait for it${hint ? `, ${hint}` : ''}, or make room (zectre nodes list shows what is allocated)`,
    1,
    'no_capacity',
  );
}

/** The end of a release: its URLs, or why it failed (reason, each task's exit code and health check output, last log lines) as an error. */
export async function finishRelease(client: ApiClient, final: Deployment, say: Say): Promise<void> {
  if (final.status === 'failed') {
    for (const line of failureLines(final)) process.stderr.write(`${line}\n`);
    const logs = await lastLogLines(client, final);
    if (logs.length) process.stderr.write(`last log lines:\n${logs.map((l) => `  ${l}`).join('\n')}\n`);
    throw new CliError(`deployment ${final.id} failed: ${final.statusReason ?? 'no reason given'}`, 1, 'deployment_failed');
  }
  if (final.status !== 'live') say(`deployment ${final.id} went live but is already ${final.status} (a newer one replaced it)`);
  else {
    const lagging = await waitForProxies(client, final, say);
    if (lagging.length) say(`warning: proxy ${lagging.join(', ')} has not confirmed the new routes yet and may still send users to the previous release`);
    say(`live at ${final.urls.app}`);
  }
  say(`preview at ${final.urls.preview}`);
}

/** Live means every proxy routes to it: waits until each live proxy reports the cutover's epoch; returns the ones that did not. */
async function waitForProxies(client: ApiClient, deployment: Deployment, say: Say): Promise<string[]> {
  const lagging = (d: Deployment) => d.routing?.waitingFor ?? [];
  if (!lagging(deployment).length) return [];
  const ids = lagging(deployment);
  say(`switched; waiting for ${ids.length} proxy(ies) to serve route epoch ${deployment.routing!.epoch}: ${ids.join(', ')}`);
  try {
    const quiet = () => {}; // the rollout's progress lines were shown already
    const done = (d: Deployment) => lagging(d).length === 0;
    return lagging(await watchDeployment(client, deployment, quiet, { bars: false, done, giveUpAt: Date.now() + PROXY_ACK_WAIT_MS }));
  } catch (err) {
    if (!(err instanceof CliError && err.code === 'timeout')) throw err;
    return lagging(await client.get<Deployment>(`/api/v1/deployments/${encodeURIComponent(deployment.id)}`));
  }
}

async function lastLogLines(client: ApiClient, deployment: Deployment): Promise<string[]> {
  const query = new URLSearchParams({ deployment: deployment.id, limit: String(FAILURE_LOG_LINES) });
  try {
    const page = await client.get<LogPage>(`/api/v1/projects/${encodeURIComponent(deployment.project)}/logs?${query}`);
    return page.lines.map((l) => `${l.taskId} ${l.stream} ${l.line}`);
  } catch {
    return []; // the failure itself is what matters; logs are a bonus
  }
}
