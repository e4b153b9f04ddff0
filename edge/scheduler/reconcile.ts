import { lockScheduler, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { heartbeatIntervalMs } from '../env.js';
import { applyPlan } from './apply-plan.js';
import { finishDrains, withoutDraining } from './drain.js';
import { plan } from './planner.js';
import { pushToNodes } from './push.js';
import { stopAcknowledged } from './retire.js';
import { failOverdue, markLostNodes, promoteHealthy } from './rollout.js';
import { loadSnapshot } from './snapshot.js';

/**
 * One scheduler pass, in one transaction under the scheduler lock: sweep lost nodes, fail overdue
 * deployments, promote healthy ones, stop retired ones every proxy
 * routes around, then plan and apply placements. Pushes go out afterwards.
 */
export async function reconcile(deps: Deps): Promise<void> {
  const touched = await transaction(deps.db(), async (tx) => {
    await lockScheduler(tx);
    await markLostNodes(tx, heartbeatIntervalMs(deps.env));
    const nodes = [
      ...(await failOverdue(tx)),
      ...(await promoteHealthy(tx)),
      ...(await stopAcknowledged(tx)),
    ];
    nodes.push(...(await applyPlan(tx, plan(await withoutDraining(tx, await loadSnapshot(tx))))));
    nodes.push(...(await finishDrains(tx)));
    return [...new Set(nodes)];
  });
  await pushToNodes(deps, touched);
}
