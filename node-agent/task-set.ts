/** Applies desired-state documents: starts new tasks, stops removed ones, leaves the rest alone. */
import type { DesiredState, ObservedTask, TaskSpec } from '../protocol/index.js';
import { CpuMeter, usageByGroup } from './resources.js';
import { Task, type TaskDeps } from './task.js';
import { loadTaskDirs, type StoredSpec } from './task-record.js';

export class TaskSet {
  private readonly tasks = new Map<string, Task>();
  private readonly cpu = new Map<string, CpuMeter>();
  private readonly stopping = new Set<Promise<void>>();
  private applied = 0;

  constructor(
    private readonly deps: TaskDeps & { artifacts: { collectGarbage(inUse: Iterable<string>): Promise<number> } },
    /** Called once a removed task is fully stopped: the log shipper drains its spool, then deletes `dir`. */
    private readonly onRemoved: (taskId: string, dir: string) => void,
    private readonly log: (msg: string) => void,
  ) {}

  get appliedGeneration(): number {
    return this.applied;
  }

  /**
   * After an agent restart: the last applied desired state continues. Each saved task re-adopts its
   * still-running process or starts again; directories without a record only have logs to drain.
   * The applied generation stays 0: env values are kept in memory only, so the first heartbeat must
   * bring the whole desired state again, which hands each task its env (until then a task that has
   * to (re)start waits, and its raw output is not read, since it could not be redacted).
   */
  async restore(): Promise<void> {
    // Everything up to the sweep's listing is synchronous: no push can apply a desired state in between.
    const saved = loadTaskDirs(this.deps.stateDir, this.log);
    const swept = this.deps.workspace.sweep(new Set(saved.filter((s) => s.record).map((s) => s.id)), this.log);
    for (const { id, dir, record } of saved) {
      if (!record) {
        this.onRemoved(id, dir);
        continue;
      }
      const outcome = this.create(record.spec)?.resume(record);
      if (outcome) this.log(`task ${id}: ${outcome}`);
    }
    this.log(`restored ${this.tasks.size} task(s); their env comes with the next desired state`);
    await swept;
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
      const running = this.tasks.get(spec.id);
      // Same id = same task: never restarted by a new generation; a restored one learns its env here.
      if (running) running.provideEnv(spec.env);
      else this.create(spec)?.start();
    }
    this.log(`applied generation ${desired.generation}: ${this.tasks.size} task(s)`);
    this.deps.onChange();
    void this.deps.artifacts
      .collectGarbage(desired.tasks.map((t) => t.artifact.digest))
      .then((n) => n && this.log(`removed ${n} unused artifact(s) from the cache`));
    return this.applied;
  }

  /** A new node identity starts its generations from scratch. */
  resetGeneration(): void {
    this.applied = 0;
  }

  /** Observed tasks with CPU and RSS of their process groups; also the memory watchdog's tick. */
  observed(): ObservedTask[] {
    const usage = usageByGroup();
    return [...this.tasks.values()].map((task) => {
      const snapshot = task.snapshot();
      const meter = this.cpu.get(task.spec.id)!;
      const u = task.pid === undefined ? undefined : usage.get(task.pid);
      if (!u) {
        meter.reset();
        return snapshot;
      }
      task.enforceMemory(u.rssBytes);
      const cpuMillis = meter.sample(u.cpuTicks);
      return { ...snapshot, rssBytes: u.rssBytes, ...(cpuMillis === undefined ? {} : { cpuMillis }) };
    });
  }

  /** Stops every task (agent shutdown with stopTasksOnExit) and waits for removals in progress. */
  async stopAll(): Promise<void> {
    const all = [...this.tasks.values()].map((task) => this.stopLogged(task));
    this.tasks.clear();
    await Promise.all([...all, ...this.stopping]);
  }

  /** Agent shutdown without stopping tasks: stop supervising them but leave the processes running. */
  async release(): Promise<void> {
    for (const task of this.tasks.values()) task.release();
    this.tasks.clear();
    await Promise.all(this.stopping);
  }

  private create(spec: TaskSpec | StoredSpec): Task | undefined {
    try {
      const task = new Task(spec, this.deps);
      this.tasks.set(spec.id, task);
      this.cpu.set(spec.id, new CpuMeter());
      return task;
    } catch (err) {
      this.log(`cannot run task ${spec.id}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private remove(id: string, task: Task): void {
    this.tasks.delete(id);
    this.cpu.delete(id);
    const done = this.stopLogged(task)
      .then(() => task.removeFiles())
      .finally(() => {
        this.stopping.delete(done);
        this.onRemoved(id, task.dir);
      });
    this.stopping.add(done);
  }

  private stopLogged(task: Task): Promise<void> {
    return task.stop().catch((err: unknown) => this.log(`stopping task ${task.spec.id}: ${(err as Error).message}`));
  }
}
