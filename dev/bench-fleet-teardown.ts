/**
 * What the fleet bench started, stopped in reverse order on the way out: at the end of a run, on an
 * error, and on Ctrl-C. As a last resort every process still below this one is killed by pid
 * (wrangler's children run in their own process groups, so a terminal's Ctrl-C does not reach them).
 */
import { descendants } from './bench-fleet-cpu.js';

type Step = () => Promise<unknown> | unknown;

export class Teardown {
  private readonly steps: Step[] = [];
  private running: Promise<void> | undefined;

  /** A step added once stopping began (a part that finished starting meanwhile) is stopped too. */
  add(step: Step): void {
    this.steps.push(step);
    if (this.running) this.running = this.running.then(() => this.drain());
  }

  /** Runs the steps once; a second caller (a signal during the run's own stop) waits for the same. */
  run(): Promise<void> {
    return (this.running ??= this.drain());
  }

  private async drain(): Promise<void> {
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
