import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Deployment } from '../protocol/index.js';

/** Per-node counts of a deployment's tasks that should run, and how many of them are healthy. */
export function perNode(deployment: Deployment): Map<string, { healthy: number; total: number }> {
  const counts = new Map<string, { healthy: number; total: number }>();
  for (const task of deployment.tasks) {
    if (task.desiredState !== 'running' || task.retiring) continue; // a retiring task counts for no replica
    const c = counts.get(task.nodeName) ?? { healthy: 0, total: 0 };
    c.total += 1;
    if (task.observedState === 'healthy') c.healthy += 1;
    counts.set(task.nodeName, c);
  }
  return counts;
}

/** Rollout progress on a terminal: one bar per node, "tasks healthy x/y". */
export class NodeBars {
  private readonly multi = new MultiBar(
    { format: '{node} [{bar}] {value}/{total} tasks healthy  {status}', stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  private readonly bars = new Map<string, SingleBar>();

  update(deployment: Deployment): void {
    for (const [node, c] of perNode(deployment)) {
      const payload = { node: node.padEnd(12), status: `${deployment.status} ${deployment.id}` };
      let bar = this.bars.get(node);
      if (!bar) {
        bar = this.multi.create(c.total, c.healthy, payload);
        this.bars.set(node, bar);
      }
      bar.setTotal(c.total);
      bar.update(c.healthy, payload);
    }
  }

  stop(): void {
    this.multi.stop();
  }
}
