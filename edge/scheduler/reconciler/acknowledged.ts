import type { Evaluation } from './evaluation.js';
import type { ProxyAck, Retirement, TaskSnap } from './types.js';

/**
 * Stop after acknowledgement: a retiring deployment or task keeps running until every live proxy
 * serves the epoch that took it out of routing (so no proxy still sends it requests), or until the
 * ack timeout, which is logged with the lagging proxies.
 */
export function stopAcknowledged(ev: Evaluation): void {
  for (const d of ev.deployments) {
    if (!d.retirement) continue;
    const verdict = judge(ev, d.retirement);
    if (verdict === 'wait') continue;
    if (verdict.length) {
      ev.out.warnings.push(`stopping deployment ${d.id} ${withoutAck(ev, d.retirement.epoch, verdict)}`);
      ev.out.events.push({
        kind: 'deployment.retire_timeout',
        data: { deploymentId: d.id, epoch: d.retirement.epoch, lagging: verdict.map((p) => ({ id: p.id, epoch: p.epoch })) },
      });
    }
    ev.finishRetirement(d);
  }
  if (!ev.has.retiringTasks) return;
  // Single tasks, grouped by epoch for the log.
  const timedOut = new Map<number, { ids: string[]; lagging: ProxyAck[] }>();
  for (const t of retiringTasks(ev)) {
    const verdict = judge(ev, t.retirement!);
    if (verdict === 'wait') continue;
    if (verdict.length) {
      const group = timedOut.get(t.retirement!.epoch) ?? { ids: [], lagging: verdict };
      group.ids.push(t.id);
      timedOut.set(t.retirement!.epoch, group);
    }
    ev.stop(t);
  }
  for (const [epoch, g] of [...timedOut].sort((a, b) => a[0] - b[0])) {
    ev.out.warnings.push(`stopping tasks ${g.ids.sort().join(', ')} ${withoutAck(ev, epoch, g.lagging)}`);
  }
}

function retiringTasks(ev: Evaluation): TaskSnap[] {
  return ev.deployments.flatMap((d) => ev.running(d).filter((t) => t.retirement));
}

/** 'wait', or the proxies still lagging when it may stop (none: acknowledged; some: timed out). */
function judge(ev: Evaluation, r: Retirement): 'wait' | ProxyAck[] {
  const lagging = ev.proxies.filter((p) => p.epoch < r.epoch);
  if (!lagging.length) return [];
  const deadline = r.requestedAt + ev.config.ackTimeoutMs;
  if (ev.now > deadline) return lagging.sort((a, b) => (a.id < b.id ? -1 : 1));
  // Acknowledgements arrive as table writes, not events: look again soon, and at the timeout.
  ev.wake(Math.min(deadline + 1, ev.now + ev.config.ackPollMs));
  return 'wait';
}

function withoutAck(ev: Evaluation, epoch: number, lagging: ProxyAck[]): string {
  const who = lagging.map((p) => `${p.id} at epoch ${p.epoch}`).join(', ');
  return `without every proxy's acknowledgement of epoch ${epoch} after ${ev.config.ackTimeoutMs} ms; lagging: ${who}`;
}
