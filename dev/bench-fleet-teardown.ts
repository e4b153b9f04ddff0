/**
 * What the fleet bench started, stopped in reverse order on the way out: at the end of a run, on an
 * error, and on Ctrl-C. As a last resort every process still below this one is killed by pid
 * (wrangler's children run in their own process groups, so a terminal's Ctrl-C does not reach them).
 */
import { descendants } from './bench-fleet-cpu.js';

type Step = () => Promise<unknown> | unknown;

export class Teardown {
  private readonly steps: Step[] = [];

  add(step: Step): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      await Promise.resolve()
        .then(step)
        .catch((err: Error) => console.error(`bench:fleet: stopping failed: ${err.message}`));
    }
  }
}

export function killDescendants(): void {
  for (const pid of descendants(process.pid).reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
