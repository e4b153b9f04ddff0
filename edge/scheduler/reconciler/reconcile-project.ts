import { stopAcknowledged } from './acknowledged.js';
import type { CapacityView } from './capacity.js';
import { promoteHealthy } from './cutover.js';
import { finishDrains } from './drain.js';
import { Evaluation } from './evaluation.js';
import { failStuck } from './failures.js';
import { replacePortConflicts } from './port-conflicts.js';
import { loseTasksOnDownNodes } from './lost.js';
import { keepReplicas } from './replicas.js';
import { DEFAULT_CONFIG, type Decisions, type ProjectSnapshot, type ProxyAck, type ReconcilerConfig } from './types.js';

export interface ReconcileInput {
  project: ProjectSnapshot;
  /** Free capacity of the nodes that take new tasks; placements and stops update it. */
  capacity: CapacityView;
  proxies: readonly ProxyAck[];
  now: number;
  config?: ReconcilerConfig;
}

/**
 * The reconciler: one project's decisions from its snapshot and `now`. Pure apart from updating the
 * capacity view it is given (so projects evaluated one after another see each other's placements):
 * no I/O, no clock, no randomness; the same input gives the same decisions, whatever the order of
 * its rows. Steps, each in its own file, in this order:
 * lost tasks -> port conflicts -> failures (crash loop, deadline) -> cutover -> stops after acknowledgement ->
 * replicas (place, scale down) -> drains.
 */
export function reconcileProject(input: ReconcileInput): Decisions {
  const ev = new Evaluation(input.project, input.capacity, input.now, input.config ?? DEFAULT_CONFIG, input.proxies);
  loseTasksOnDownNodes(ev);
  replacePortConflicts(ev);
  failStuck(ev);
  promoteHealthy(ev);
  stopAcknowledged(ev);
  keepReplicas(ev);
  finishDrains(ev);
  return ev.finish();
}
