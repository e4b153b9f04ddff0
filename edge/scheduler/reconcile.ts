import { lockScheduler, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { heartbeatIntervalMs } from '../env.js';
import { applyDecisions } from './apply-decisions.js';
import { markLostNodes } from './lost-nodes.js';
import { pushToNodes } from './push.js';
import { reconcileProject } from './reconciler/reconcile-project.js';
import type { Decisions } from './reconciler/types.js';
import { loadCapacity, loadProjects, loadProxies, projectsToEvaluate } from './snapshot.js';

/**
 * One scheduler pass, in one transaction under the scheduler lock: mark silent nodes down, find
 * the projects with work pending, read their snapshots and the capacity view once, run the pure
 * reconciler on each project in turn (they share the view, so they see each other's placements),
 * apply the decisions, then push to the nodes whose desired state changed. Decisions use `now`
 * (the caller's clock), never the database's. Returns the decisions, for tests and the operator.
 */
export async function reconcile(deps: Deps, now = Date.now()): Promise<Decisions[]> {
  const { decisions, push } = await transaction(deps.db(), async (tx) => {
    await lockScheduler(tx);
    const down = await markLostNodes(tx, heartbeatIntervalMs(deps.env));
    const projectIds = await projectsToEvaluate(tx);
    if (!projectIds.length) {
      // A node that went down without running tasks changes routing all the same.
      if (down.length) await applyDecisions(tx, [], now, true);
      return { decisions: [], push: [] };
    }
    const capacity = await loadCapacity(tx);
    const proxies = await loadProxies(tx);
    const projects = await loadProjects(tx, projectIds);
    const decisions = projects.map((project) => reconcileProject({ project, capacity, proxies, now }));
    const applied = await applyDecisions(tx, decisions, now, down.length > 0);
    return { decisions, push: applied.push };
  });
  await pushToNodes(deps, push);
  return decisions;
}
