/** One task on this node: artifact -> unpack -> process -> health checks -> restart on exit. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogStream, ObservedState, ObservedTask, TaskSpec } from '../protocol/index.js';
import { ArtifactError, type ArtifactCache } from './artifact-cache.js';
import { Backoff } from './backoff.js';
import { HealthChecker } from './health-check.js';
import { splitLines } from './line-splitter.js';
import { killGroup, signalGroup, spawnInGroup, type TaskProcess } from './process-group.js';
import { UnpackError, unpack } from './unpack.js';

export interface TaskDeps {
  stateDir: string;
  artifacts: ArtifactCache;
  /** Where the task's stdout/stderr and the agent's notes about it go. */
  appendLog: (taskId: string, stream: LogStream, line: string) => void;
  /** Called whenever the observed state changes (drives the prompt heartbeat). */
  onChange: () => void;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_MESSAGE = 2_000;
/** A process that ran this long is considered to have recovered; its next crash restarts after 1 s again. */
const RESTART_BACKOFF_RESET_MS = 30_000;
const INHERITED_ENV = ['PATH', 'HOME', 'LANG'] as const;

export class Task {
  private observed: ObservedTask;
  private child: TaskProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private health: HealthChecker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly restartBackoff = new Backoff(1_000, 30_000, false);

  constructor(
    readonly spec: TaskSpec,
    private readonly deps: TaskDeps,
  ) {
    this.observed = { id: spec.id, state: 'pending', restarts: 0 };
  }

  get dir(): string {
    return join(this.deps.stateDir, 'tasks', this.spec.id);
  }

  snapshot(): ObservedTask {
    return { ...this.observed };
  }

  start(): void {
    this.prepare()
      .then((ready) => ready && this.spawn())
      .catch((err: unknown) => this.fail(`task could not start: ${(err as Error).message}`));
  }

  /** Stops health checks and restarts, then the whole process group (SIGTERM, killTimeoutMs, SIGKILL). */
  async stop(removeFiles: boolean): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    clearTimeout(this.restartTimer);
    this.health?.stop();
    const pid = this.child?.pid;
    if (pid !== undefined) {
      await killGroup(pid, this.spec.killTimeoutMs);
      await this.exited;
      this.note(`stopped pid ${pid}`);
    }
    if (removeFiles) await rm(this.dir, { recursive: true, force: true });
  }

  /** Stops supervising (health checks, restarts) but leaves the process group running. */
  release(): void {
    this.stopping = true;
    this.abort.abort();
    clearTimeout(this.restartTimer);
    this.health?.stop();
    this.child?.unref();
  }

  /** Fetches and unpacks the artifact, retrying transient failures; false when the task failed or was stopped. */
  private async prepare(): Promise<boolean> {
    if (!SAFE_ID.test(this.spec.id)) return this.fail(`task id "${this.spec.id}" is not usable as a directory name`);
    const backoff = new Backoff(1_000, 30_000, true);
    const { digest, url } = this.spec.artifact;
    while (!this.stopping) {
      try {
        const file = await this.deps.artifacts.get(digest, url);
        await unpack(file, join(this.dir, 'app'));
        return !this.stopping;
      } catch (err) {
        if (this.stopping) return false;
        const message = (err as Error).message;
        if (err instanceof UnpackError || (err instanceof ArtifactError && err.permanent)) return this.fail(message);
        const delay = backoff.next();
        this.note(`${message}; retrying in ${Math.round(delay)} ms`);
        this.set({ state: 'pending', message });
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
    return false;
  }

  private spawn(): void {
    if (this.stopping) return;
    const child = spawnInGroup(this.spec.command, join(this.dir, 'app'), this.env());
    this.child = child;
    this.startedAt = Date.now();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.onExit(child, code, signal);
        resolve();
      });
      child.once('error', (err) => {
        this.note(`spawn failed: ${err.message}`);
        this.onExit(child, null, null);
        resolve();
      });
    });
    splitLines(child.stdout, (line) => this.deps.appendLog(this.spec.id, 'stdout', line));
    splitLines(child.stderr, (line) => this.deps.appendLog(this.spec.id, 'stderr', line));
    if (child.pid === undefined) return; // 'error' follows
    this.note(`started pid ${child.pid}`);
    this.set({ state: 'starting', pid: child.pid, exitCode: undefined, message: undefined });
    this.health = new HealthChecker(this.spec.port, this.spec.healthCheck, (status) => {
      if (this.child === child && !this.stopping) this.set({ state: status });
    });
    this.health.start();
  }

  private onExit(child: TaskProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.health?.stop();
    if (this.stopping) return; // stop() gives the rest of the group its killTimeoutMs grace
    // Leftover children of a crashed task would hold its port and block the restart.
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.note(how);
    this.set({ state: 'exited', pid: undefined, exitCode: code, message: how });
    if (Date.now() - this.startedAt >= RESTART_BACKOFF_RESET_MS) this.restartBackoff.reset();
    const delay = this.restartBackoff.next();
    this.restartTimer = setTimeout(() => {
      this.observed.restarts += 1;
      this.note(`restarting (restart ${this.observed.restarts}) after ${delay} ms`);
      this.spawn();
    }, delay);
  }

  private env(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    return { ...env, ...this.spec.env, PORT: String(this.spec.port) };
  }

  private fail(message: string): false {
    this.note(`failed: ${message}`);
    this.set({ state: 'failed', pid: undefined, message });
    return false;
  }

  /** An agent note in the task's log stream, e.g. "started pid 123". */
  private note(line: string): void {
    this.deps.appendLog(this.spec.id, 'system', line);
  }

  private set(patch: Partial<ObservedTask> & { state: ObservedState }): void {
    const next: ObservedTask = { ...this.observed, ...patch };
    if (next.message !== undefined) next.message = next.message.slice(0, MAX_MESSAGE);
    for (const key of ['pid', 'exitCode', 'message'] as const) if (next[key] === undefined) delete next[key];
    this.observed = next;
    this.deps.onChange();
  }
}
