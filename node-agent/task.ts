/**
 * One task on this node: artifact -> unpack -> process -> health checks -> restart policy. The task
 * runs as its project's uid (TaskUsers) in its own directory (Workspace); its env values live only
 * in memory, so after an agent restart they arrive again with the desired state (provideEnv).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IDENTITY_TOKEN_ENV, IDENTITY_TOKEN_FILE, IDENTITY_TOKEN_FILE_ENV, PORT_IN_USE, type ObservedState, type ObservedTask, type TaskSpec } from '../protocol/index.js';
import { ArtifactError, type ArtifactCache } from './artifact-cache.js';
import { Backoff } from './backoff.js';
import type { ForeignPorts } from './foreign-ports.js';
import { HealthChecker, type HealthStatus } from './health-check.js';
import type { IdentityTask, IdentityTokens } from './identity-tokens.js';
import { LogSpool } from './log-spool.js';
import { portIsFree } from './port-check.js';
import { groupMembers, killGroup, procStat, sameProcessAlive, signalGroup, spawnInGroup } from './process-group.js';
import { TASK_ID_ENV, type ProcessTracker } from './process-tracker.js';
import type { CgroupLimiter } from './resources.js';
import type { SpoolBudget } from './spool-segments.js';
import { saveTaskRecord, type StoredSpec, type TaskRecord } from './task-record.js';
import type { TaskUser, TaskUsers } from './task-users.js';
import { UnpackError } from './unpack.js';
import type { Workspace } from './workspace.js';

export interface TaskDeps {
  /** Root-only: task records and log spools. */
  stateDir: string;
  /** Where tasks' own directories live (cwd and HOME). */
  workspace: Workspace;
  users: TaskUsers;
  artifacts: ArtifactCache;
  /** Registers the task's spool with the log shipper. */
  addSpool: (spool: LogSpool) => void;
  /** Log lines dropped because the spool was full. */
  onLinesDropped: (lines: number) => void;
  /** Called whenever the observed state changes (drives the prompt heartbeat). */
  onChange: () => void;
  cgroup?: CgroupLimiter;
  /** Bytes on disk shared by every task's log spool (default: each spool its own DEFAULT_SPOOL_BYTES). */
  spoolBudget?: SpoolBudget;
  /** Finds the task's processes that left its process group (setsid), so that none outlives a stop or crash. */
  tracker?: ProcessTracker;
  /** Resolves when processes may be (re)started: after the agent was paused, only once the control plane answered (PauseWatch). */
  mayStart?: () => Promise<void>;
  /** Workload identity tokens (ZECTRE_IDENTITY_TOKEN and its file); absent: tasks get none. */
  identity?: IdentityTokens;
  /** Where a task records a port it found held by another process (reported in heartbeats). */
  foreignPorts?: ForeignPorts;
}

/** A running process group of this task, spawned by this agent or re-adopted from an earlier one. */
interface Running {
  pid: number;
  startTime: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_MESSAGE = 2_000;
/** A process that ran this long is considered to have recovered; its next crash restarts after 1 s again. */
const RESTART_BACKOFF_RESET_MS = 30_000;
const ADOPTED_POLL_MS = 500;
/**
 * Waits between the checks of a task's port before it fails with port_in_use (three checks over ~3 s):
 * long enough for a process of ours that just exited to let go of it, short against a deploy deadline.
 */
const PORT_WAITS_MS = [1_000, 2_000];
const INHERITED_ENV = ['PATH', 'LANG'] as const;
const WAITING_FOR_ENV = 'waiting for its environment from the control plane (the agent restarted; env values are never stored on disk)';

export class Task {
  readonly spec: StoredSpec;
  /** The spec's env values: in memory only. */
  private env: Record<string, string> | undefined;
  private envArrived: () => void = () => undefined;
  private readonly envKnown = new Promise<void>((resolve) => (this.envArrived = resolve));
  /** The project's uid, once looked up (`as` undefined: the agent is not root and tasks share its uid). */
  private user: { as: TaskUser | undefined } | undefined;
  private observed: ObservedTask;
  private running: Running | undefined;
  private health: HealthChecker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private escapedKilled: Promise<void> = Promise.resolve();
  /** The artifact digest unpacked into the task's directory (kept in task.json). */
  private unpacked: string | undefined;
  /** Why the watchdog killed the process, for its exit message. */
  private memoryKill: string | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly restartBackoff = new Backoff(1_000, 30_000, false);
  readonly spool: LogSpool;

  /** A spec without env (restored from its record) waits for provideEnv before it spawns anything. */
  constructor(
    spec: TaskSpec | StoredSpec,
    private readonly deps: TaskDeps,
  ) {
    const { env, ...stored } = spec as TaskSpec;
    this.spec = stored;
    if (!SAFE_ID.test(spec.id)) throw new Error(`task id "${spec.id}" is not usable as a directory name`);
    this.observed = { id: spec.id, state: 'pending', restarts: 0 };
    this.spool = new LogSpool(spec.id, join(this.dir, 'logs'), {
      secretValues: undefined,
      onDropped: deps.onLinesDropped,
      ...(deps.spoolBudget ? { budget: deps.spoolBudget } : {}),
    });
    if (env) this.provideEnv(env);
    deps.addSpool(this.spool);
  }

  /** The task's files in the agent's state (record, logs): root-only. */
  get dir(): string {
    return join(this.deps.stateDir, 'tasks', this.spec.id);
  }

  /** The task's own directory: the unpacked artifact, its cwd and HOME. */
  get appDir(): string {
    return this.deps.workspace.taskDir(this.spec.id);
  }

  /** The env values of the spec (same task id = same deployment = same env); only the first call counts. */
  provideEnv(env: Record<string, string>): void {
    if (this.env) return;
    this.env = env;
    const secretKeys = this.spec.secretEnv ?? Object.keys(env);
    this.spool.setSecrets(secretKeys.map((k) => env[k] ?? ''));
    this.envArrived();
  }

  get pid(): number | undefined {
    return this.running?.pid;
  }

  snapshot(): ObservedTask {
    return { ...this.observed };
  }

  start(): void {
    // Recorded before the download: an agent that dies before the process starts resumes this task
    // (download included) at once on restart, without waiting for the control plane to resend it.
    this.persist();
    this.prepare()
      .then((ready) => (ready ? this.spawnWhenPortFree() : undefined))
      .catch((err: unknown) => this.fail(`task could not start: ${(err as Error).message}`));
  }

  /** The project's uid (fixed for the task's life); throws when the uid range is exhausted. */
  private runAs(): TaskUser | undefined {
    this.user ??= { as: this.deps.users.userFor(this.spec.projectId ?? this.spec.project) };
    return this.user.as;
  }

  /**
   * After an agent restart: re-adopts the process of the saved record when that very process
   * (pid + start time) still runs; otherwise clears leftovers of its group and starts afresh.
   */
  resume(saved: TaskRecord): string {
    this.observed.restarts = saved.restarts;
    this.unpacked = saved.unpacked;
    const { pid, startTime } = saved;
    if (pid !== undefined && startTime !== undefined && sameProcessAlive(pid, startTime)) {
      this.note(`re-adopted pid ${pid} after an agent restart${saved.health ? ` (last health: ${saved.health})` : ''}`);
      const identity = this.identityTask();
      if (identity) this.deps.identity?.adopt(identity); // its token file keeps being renewed
      this.attach({ pid, startTime, exited: watchAdopted(pid, startTime, this.abort.signal) }, saved.health);
      return `re-adopted pid ${pid}`;
    }
    // The leader is gone; a process group id is never reused while members remain, so these are ours.
    if (pid !== undefined && !procStat(pid) && groupMembers(pid).length) signalGroup(pid, 'SIGKILL');
    this.start();
    return pid === undefined ? 'was not running: starting it' : `pid ${pid} is gone: starting it again`;
  }

  /** Stops health checks and restarts, then the whole process group (SIGTERM, killTimeoutMs, SIGKILL). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    clearTimeout(this.restartTimer);
    this.health?.stop();
    this.deps.identity?.forget(this.spec.id);
    const running = this.running;
    this.deps.tracker?.signal(this.spec.id, 'SIGTERM'); // those that left the group get the same grace
    if (running) {
      await killGroup(running.pid, this.spec.killTimeoutMs);
      await running.exited;
      this.note(`stopped pid ${running.pid}`);
    }
    await this.killEscaped();
    this.spool.poll(true);
    this.deps.cgroup?.remove(this.spec.id);
    this.deps.tracker?.remove(this.spec.id);
  }

  /** Whatever of the task outlived its process group (setsid, double forks): SIGKILLed, logged. */
  private async killEscaped(): Promise<void> {
    const tracker = this.deps.tracker;
    const left = tracker?.members(this.spec.id) ?? [];
    if (!tracker || !left.length) return;
    this.note(`killing ${left.length} process(es) that left the task's process group: ${left.slice(0, 10).join(', ')}`);
    await tracker.killAll(this.spec.id).catch((err: Error) => this.note(err.message));
  }

  /** Stops supervising (health checks, restarts) but leaves the process group running for the next agent. */
  release(): void {
    this.stopping = true;
    this.abort.abort();
    clearTimeout(this.restartTimer);
    this.health?.stop();
  }

  /** Fetches and unpacks the artifact, retrying transient failures; false when the task failed or was stopped. */
  private async prepare(): Promise<boolean> {
    const backoff = new Backoff(1_000, 30_000, true);
    const { digest, url } = this.spec.artifact;
    const user = this.runAs(); // no uid left is no reason to retry: it fails the task
    // Unpacked for this very task before (an agent restart, or a stop on agent exit): used as it is, as
    // after a crash restart. The record saying so is root-only; the directory must still be the task uid's.
    if (this.unpacked === digest && (await this.deps.workspace.installed(this.spec.id, user))) {
      this.note(`reusing the artifact unpacked for this task before (${digest.slice(0, 19)}…)`);
      return !this.stopping;
    }
    while (!this.stopping) {
      try {
        const file = await this.deps.artifacts.get(digest, url);
        await this.deps.workspace.install(this.spec.id, file, user);
        this.unpacked = digest;
        this.persist();
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

  /**
   * Starts the process once its port is free. A port still held after PORT_WAITS_MS (another program,
   * a leftover) fails the task with code port_in_use: the scheduler, which assigns ports, replaces it
   * on another one and avoids this one for a while (ForeignPorts). Waiting on would wait out the deploy.
   */
  private async spawnWhenPortFree(): Promise<void> {
    if (!this.env && !this.stopping) {
      this.note(WAITING_FOR_ENV);
      this.set({ state: 'pending', message: WAITING_FOR_ENV });
      await Promise.race([this.envKnown, new Promise((resolve) => this.abort.signal.addEventListener('abort', resolve, { once: true }))]);
    }
    await this.deps.mayStart?.();
    const port = this.spec.port;
    for (let attempt = 0; !this.stopping && !(await portIsFree(port)); attempt++) {
      const delay = PORT_WAITS_MS[attempt];
      if (delay === undefined) {
        this.deps.foreignPorts?.add(port);
        this.note(`failed: port ${port} is in use by another process on this node; the scheduler moves the task to another port`);
        this.set({ state: 'failed', pid: undefined, code: PORT_IN_USE, message: `port ${port} is in use by another process on this node` });
        return;
      }
      const message = `port ${port} is in use by another process on this node; checking again in ${delay} ms`;
      this.note(message);
      this.set({ state: 'pending', message });
      await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
    const identity = this.identityTask();
    const token = identity && !this.stopping ? await this.deps.identity?.forStart(identity) : undefined;
    this.spawn(token);
  }

  /** Where the task's identity token file goes: directly in its own directory, owned by its uid. */
  private identityTask(): IdentityTask | undefined {
    if (!this.deps.identity) return undefined;
    try {
      return { id: this.spec.id, file: join(this.appDir, IDENTITY_TOKEN_FILE), owner: this.runAs() };
    } catch {
      return undefined; // no uid for the project: spawn() fails the task with the reason
    }
  }

  /** `identityToken`: the first token for ZECTRE_IDENTITY_TOKEN (absent: the control plane gave none in time). */
  private spawn(identityToken?: string): void {
    if (this.stopping) return;
    let user: TaskUser | undefined;
    try {
      user = this.runAs();
    } catch (err) {
      this.fail((err as Error).message);
      return;
    }
    const tracker = this.deps.tracker;
    this.spool.rotateRaw();
    const child = spawnInGroup(
      this.spec.command,
      this.appDir,
      this.processEnv(identityToken),
      { stdout: this.spool.rawPath('stdout'), stderr: this.spool.rawPath('stderr') },
      user,
      tracker?.cgroupPath(this.spec.id),
    );
    if (child.pid !== undefined && tracker) {
      try {
        tracker.enter(this.spec.id, child.pid); // the shell waits for this before it runs the command
      } catch (err) {
        signalGroup(child.pid, 'SIGKILL');
        this.note(`cannot put pid ${child.pid} into its cgroup (${tracker.kind}): ${(err as Error).message}`);
      }
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => {
        this.note(`spawn failed: ${err.message}`);
        resolve({ code: null, signal: null });
      });
    });
    if (child.pid === undefined) {
      void exited.then(({ code, signal }) => this.onExit(undefined, code, signal));
      return;
    }
    this.limit(child.pid);
    this.note(`started pid ${child.pid}`);
    this.startedAt = Date.now();
    this.attach({ pid: child.pid, startTime: procStat(child.pid)?.startTime ?? 0, exited });
  }

  /** Puts the new process into its cgroup; without one the RSS watchdog of the task set applies. */
  private limit(pid: number): void {
    try {
      this.deps.cgroup?.enter(this.spec.id, pid, this.spec.resources);
    } catch (err) {
      this.note(`cgroup limits not applied: ${(err as Error).message}`);
    }
  }

  /** `health`: what a re-adopted process last reported; a new one is 'starting'. */
  private attach(running: Running, health: HealthStatus = 'starting'): void {
    this.running = running;
    void running.exited.then(({ code, signal }) => this.onExit(running, code, signal));
    this.set({ state: health, pid: running.pid, exitCode: undefined, message: undefined, code: undefined });
    this.persist();
    this.health = new HealthChecker(
      this.spec.port,
      this.spec.healthCheck,
      (status) => {
        if (this.running !== running || this.stopping) return;
        this.set({ state: status });
        this.persist(); // a restarted agent re-adopts the process with this health
      },
      health,
    );
    this.health.start();
  }

  /** Memory over the limit (watchdog fallback): kill the group; the restart policy decides what follows. */
  enforceMemory(rssBytes: number): void {
    const limit = this.spec.resources.memoryMb * 1024 * 1024;
    if (!this.running || this.deps.cgroup || rssBytes <= limit) return;
    this.memoryKill = `killed: memory ${Math.round(rssBytes / 1048576)} MB over its ${this.spec.resources.memoryMb} MB limit`;
    this.note(`killing pid ${this.running.pid}: memory ${Math.round(rssBytes / 1048576)} MB exceeds the limit of ${this.spec.resources.memoryMb} MB`);
    signalGroup(this.running.pid, 'SIGKILL');
  }

  private onExit(running: Running | undefined, code: number | null, signal: NodeJS.Signals | null): void {
    if (running && this.running !== running) return;
    this.running = undefined;
    this.health?.stop();
    if (this.stopping) return; // stop() gives the rest of the group its killTimeoutMs grace
    // Leftover children of a crashed task would hold its port and block the restart.
    if (running) signalGroup(running.pid, 'SIGKILL');
    this.escapedKilled = this.killEscaped(); // a crash loop must not pile up escaped processes
    this.spool.poll(true);
    const how = this.exitMessage(code, signal);
    this.note(how);
    this.set({ state: 'exited', pid: undefined, exitCode: code, message: how });
    this.persist();
    const policy = this.spec.restartPolicy;
    if (policy === 'never' || (policy === 'on-failure' && code === 0 && !signal)) {
      this.note(`not restarting (restart policy ${policy})`);
      return;
    }
    if (Date.now() - this.startedAt >= RESTART_BACKOFF_RESET_MS) this.restartBackoff.reset();
    const delay = this.restartBackoff.next();
    this.restartTimer = setTimeout(() => void this.restart(delay), delay);
  }

  /** What ended the process, in the words a user acts on ("killed: memory 183 MB over its 128 MB limit"). */
  private exitMessage(code: number | null, signal: NodeJS.Signals | null): string {
    const memory = this.memoryKill ?? (signal === 'SIGKILL' ? this.deps.cgroup?.memoryKill(this.spec.id, this.spec.resources.memoryMb) : undefined);
    this.memoryKill = undefined;
    if (memory) return memory;
    return signal ? `killed by ${signal}` : code === null ? 'exited (exit code unknown: the process was re-adopted)' : `exited with code ${code}`;
  }

  private async restart(delay: number): Promise<void> {
    await this.deps.mayStart?.(); // a task the control plane replaced while the agent was paused is not restarted
    await this.escapedKilled;
    if (this.stopping) return;
    this.observed.restarts += 1;
    this.note(`restarting (restart ${this.observed.restarts}) after ${delay} ms`);
    await this.spawnWhenPortFree();
  }

  /**
   * PATH and LANG from the agent, HOME = the task's directory, PYTHONUNBUFFERED=1, the spec's env, PORT, ZECTRE_TASK_ID,
   * ZECTRE_IDENTITY_TOKEN(_FILE). Nothing else of the agent's.
   */
  private processEnv(identityToken: string | undefined): Record<string, string> {
    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    // ZECTRE_TASK_ID: how the /proc fallback of the ProcessTracker finds the task's escaped processes.
    // PYTHONUNBUFFERED as on Heroku: Python would otherwise hold its output back (stdout is a file), the app's env may say otherwise.
    // The identity variables come last: a project env var of the same name must not pass for the agent's.
    const identity = this.deps.identity
      ? { [IDENTITY_TOKEN_FILE_ENV]: join(this.appDir, IDENTITY_TOKEN_FILE), ...(identityToken ? { [IDENTITY_TOKEN_ENV]: identityToken } : {}) }
      : {};
    const all: Record<string, string> = { ...env, HOME: this.appDir, PYTHONUNBUFFERED: '1', ...this.env, PORT: String(this.spec.port), [TASK_ID_ENV]: this.spec.id, ...identity };
    if (this.deps.identity && !identityToken) delete all[IDENTITY_TOKEN_ENV];
    return all;
  }

  private fail(message: string): false {
    this.note(`failed: ${message}`);
    this.set({ state: 'failed', pid: undefined, message });
    return false;
  }

  /** An agent note in the task's log stream, e.g. "started pid 123". */
  private note(line: string): void {
    this.spool.note(line);
  }

  /** What a restarted agent needs to re-adopt or replace this task. */
  private persist(): void {
    saveTaskRecord(this.dir, {
      spec: this.spec,
      restarts: this.observed.restarts,
      ...(this.running ? { pid: this.running.pid, startTime: this.running.startTime } : {}),
      ...(this.running && isHealth(this.observed.state) ? { health: this.observed.state } : {}),
      ...(this.unpacked ? { unpacked: this.unpacked } : {}),
    });
  }

  private set(patch: Partial<ObservedTask> & { state: ObservedState }): void {
    const next: ObservedTask = { ...this.observed, ...patch };
    if (next.message !== undefined) next.message = next.message.slice(0, MAX_MESSAGE);
    for (const key of ['pid', 'exitCode', 'message', 'code'] as const) if (next[key] === undefined) delete next[key];
    this.observed = next;
    this.deps.onChange();
  }

  /** Removes the task's files except its log spool (the shipper deletes the directory once drained). */
  async removeFiles(): Promise<void> {
    await this.deps.workspace.remove(this.spec.id);
    await rm(join(this.dir, 'task.json'), { force: true });
  }
}

const isHealth = (state: ObservedState): state is HealthStatus => state === 'starting' || state === 'healthy' || state === 'unhealthy';

/** An adopted process is not our child: no exit event, so poll until that pid + start time is gone. */
async function watchAdopted(pid: number, startTime: number, signal: AbortSignal): Promise<{ code: null; signal: null }> {
  while (sameProcessAlive(pid, startTime)) {
    await sleep(ADOPTED_POLL_MS, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) {
      // stop(): killGroup waits for the group itself; resolve once the leader is gone.
      while (sameProcessAlive(pid, startTime)) await sleep(25);
    }
  }
  return { code: null, signal: null };
}
