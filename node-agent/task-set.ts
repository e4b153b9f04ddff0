/** Applies desired-state documents: starts new tasks, stops removed ones, leaves the rest alone. */
import type { DesiredState, ObservedTask } from '../protocol/index.js';
import { Task, type TaskDeps } from './task.js';

export class TaskSet {
  private readonly tasks = new Map<string, Task>();
  private readonly stopping = new Set<Promise<void>>();
  private applied = 0;

  constructor(
    private readonly deps: TaskDeps,
    /** Called once a removed task is fully stopped (the log shipper forgets it then). */
    private readonly onRemoved: (taskId: string) => void,
    private readonly log: (msg: string) => void,
  ) {}

  get appliedGeneration(): number {
    return this.applied;
  }

  /** Pushes and polls race, so only a newer generation is applied; returns the generation now applied. */
  apply(desired: DesiredState): number {
    if (desired.generation <= this.applied) return this.applied;
    this.applied = desired.generation;
    const wanted = new Set(desired.tasks.map((t) => t.id));
    for (const [id, task] of this.tasks) {
      if (!wanted.has(id)) this.remove(id, task);
    }
    for (const spec of desired.tasks) {
      if (this.tasks.has(spec.id)) continue; // same id = same task: never restarted by a new generation
      const task = new Task(spec, this.deps);
      this.tasks.set(spec.id, task);
      task.start();
    }
    this.log(`applied generation ${desired.generation}: ${this.tasks.size} task(s)`);
    this.deps.onChange();
    return this.applied;
  }

  /** A new node identity starts its generations from scratch. */
  resetGeneration(): void {
    this.applied = 0;
  }

  observed(): ObservedTask[] {
    return [...this.tasks.values()].map((t) => t.snapshot());
  }

  /** Stops every task (agent shutdown with stopTasksOnExit) and waits for removals in progress. */
  async stopAll(): Promise<void> {
    const all = [...this.tasks.values()].map((task) => this.stopLogged(task, false));
    this.tasks.clear();
    await Promise.all([...all, ...this.stopping]);
  }

  /** Agent shutdown without stopping tasks: stop supervising them but leave the processes running. */
  async release(): Promise<void> {
    for (const task of this.tasks.values()) task.release();
    this.tasks.clear();
    await Promise.all(this.stopping);
  }

  private remove(id: string, task: Task): void {
    this.tasks.delete(id);
    const done = this.stopLogged(task, true).finally(() => {
      this.stopping.delete(done);
      this.onRemoved(id);
    });
    this.stopping.add(done);
  }

  private stopLogged(task: Task, removeFiles: boolean): Promise<void> {
    return task.stop(removeFiles).catch((err: unknown) => this.log(`stopping task ${task.spec.id}: ${(err as Error).message}`));
  }
}
