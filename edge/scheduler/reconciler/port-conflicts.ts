import { PORT_IN_USE } from '../../../protocol/tasks.js';
import type { Evaluation } from './evaluation.js';

/**
 * Tasks whose agent found their port held by another process (a foreign listener, a leftover) and
 * gave up waiting for it (ObservedTask.code `port_in_use`). Waiting longer would only wait out the
 * deployment's deadline, and the agent does not pick ports itself (routes come from the scheduler),
 * so: the task stops, its port stays blocked on that node for this pass (the node's reported foreign
 * ports keep it blocked for the next ones), and the replica step places a replacement on another port.
 */
export function replacePortConflicts(ev: Evaluation): void {
  for (const d of ev.deployments) {
    for (const t of ev.running(d)) {
      if (t.observed !== 'failed' || t.code !== PORT_IN_USE || t.retirement) continue;
      ev.capacity.block(t.nodeId, [t.port]);
      ev.stop(t);
      ev.out.warnings.push(`task ${t.id}: port ${t.port} on node ${t.nodeId} is held by another process; replacing the task on another port`);
    }
  }
}
