import { ACTIVE, type Evaluation } from './evaluation.js';

/**
 * Tasks on a down node. Losing contact with an agent is not losing its tasks (a frozen agent's apps
 * keep answering; Nomad's `disconnect`): while their deployment is active and has fewer than
 * `replicas` routable tasks on ready nodes, they stay in routing and count for no replica, so the
 * replica step places their replacements. Once the replacements serve, they are lost (marked so,
 * stopped, out of routing; if the node comes back its next heartbeat sees a generation without
 * them). Tasks of a deployment that needs none (superseded, failed) are lost at once.
 */
export function loseTasksOnDownNodes(ev: Evaluation): void {
  if (!ev.has.down) return;
  for (const d of ev.deployments) {
    const running = ev.running(d);
    const onDown = running.filter((t) => ev.nodeStatus(t) === 'down');
    if (!onDown.length) continue;
    const replaced = !ACTIVE.has(ev.statusOf(d)) || running.filter((t) => ev.nodeStatus(t) === 'ready' && ev.routable(t)).length >= d.replicas;
    if (replaced) for (const t of onDown) ev.lose(t);
  }
}
