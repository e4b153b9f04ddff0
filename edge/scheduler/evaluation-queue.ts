/** What a pass evaluates: these projects, and with `sweep` every project with work pending. */
export interface Evaluation {
  projects: string[];
  sweep: boolean;
}

/**
 * Serialises evaluations and coalesces the ones raised while a pass runs into the next pass: one
 * pass at a time (the single writer of scheduling decisions), and a burst of N requests costs at most
 * two passes, not N. Each caller's promise settles with the first pass that started after its
 * request, so it sees that pass's decisions in the database.
 */
export class EvaluationQueue {
  private projects = new Set<string>();
  private sweep = false;
  private waiters: { resolve(): void; reject(err: unknown): void }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly pass: (evaluation: Evaluation) => Promise<void>) {}

  raise(evaluation: Evaluation): Promise<void> {
    for (const id of evaluation.projects) this.projects.add(id);
    this.sweep ||= evaluation.sweep;
    const settled = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return settled;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private async drain(): Promise<void> {
    while (this.waiters.length) {
      const batch: Evaluation = { projects: [...this.projects].sort(), sweep: this.sweep };
      const waiters = this.waiters;
      this.projects = new Set();
      this.sweep = false;
      this.waiters = [];
      try {
        await this.pass(batch);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
  }
}
