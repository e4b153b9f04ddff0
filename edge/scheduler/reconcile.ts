import { lockScheduler, transaction } from '../db.js';
import type { Deps } from '../deps.js';
import { applyDecisions } from './apply-decisions.js';
import type { Evaluation } from './evaluation-queue.js';
import { pushToNodes } from './push.js';
import { reconcileProject } from './reconciler/reconcile-project.js';
import type { Decisions } from './reconciler/types.js';
import type { GenerationBump } from './shards.js';
import { loadCapacity, loadProjects, loadProxies, projectsToEvaluate } from './snapshot.js';

export interface Pass {
  decisions: Decisions[];
  /** Nodes whose desired state moved, with their new generation: their shards must hear of it. */
  generations: GenerationBump[];
}

/**
 * One evaluation, in one transaction: the projects asked for (and with `sweep`, every project with
 * work pending: rollouts, retirements waiting for proxies, tasks on lost or draining nodes, replica
 * counts not met), their snapshots and the capacity view read once, the pure reconciler run on each
 * project in turn (they share the view, so they see each other's placements), the decisions
 * applied, then pushed to the nodes whose desired state changed. The Scheduler Durable Object runs
 * these one at a time; the advisory lock is uncontended there and only keeps the API writers that
 * change tasks or the live deployment directly (scale, project delete, instant rollback) out of a pass. Decisions use `now` (the
 * caller's clock), never the database's.
 */
export async function reconcileProjects(deps: Deps, evaluation: Evaluation, now = Date.now()): Promise<Pass> {
  const { decisions, push, generations } = await transaction(deps.db(), async (tx) => {
    await lockScheduler(tx);
    const pending = evaluation.sweep ? await projectsToEvaluate(tx) : [];
    const projectIds = [...new Set([...evaluation.projects, ...pending])].sort();
    if (!projectIds.length) return { decisions: [], push: [], generations: [] };
    const capacity = await loadCapacity(tx);
    const proxies = await loadProxies(tx);
    const projects = await loadProjects(tx, projectIds);
    const decisions = projects.map((project) => reconcileProject({ project, capacity, proxies, now }));
    const applied = await applyDecisions(tx, decisions, now);
    return { decisions, ...applied };
  });
  await pushToNodes(deps, push);
  return { decisions, generations };
}

/** A sweep: every project with work pending (the scheduler's alarm, and tests). */
export async function reconcile(deps: Deps, now = Date.now()): Promise<Decisions[]> {
  return (await reconcileProjects(deps, { projects: [], sweep: true }, now)).decisions;
}
