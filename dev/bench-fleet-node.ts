/**
 * One simulated node: the agent's wire protocol (register, heartbeat at the interval the scheduler
 * gives, apply the newest desired state from heartbeat answers or pushes) without running anything.
 * A task in the desired state is reported healthy on the next heartbeat, which a change brings
 * forward to within 50 ms, as the agent's prompt heartbeat does (node-agent/heartbeat-loop.ts).
 */
import {
  DesiredState,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ObservedTask,
  type RegisterRequest,
  type RegisterResponse,
} from '../protocol/index.js';
import { Backoff } from '../node-agent/backoff.js';
import { AGENT_TIMEOUT_MS, ApiError, type ApiClient } from './bench-fleet-http.js';
import type { HeartbeatStats } from './bench-fleet-stats.js';

/** The agent's debounce between a task change and its prompt heartbeat. */
const POKE_DEBOUNCE_MS = 50;
const CAPACITY = { cpuMillis: 8_000, memoryMb: 16_384 };
const PORT_RANGE: [number, number] = [20_000, 29_999];

export interface NodeContext {
  api: ApiClient;
  stats: HeartbeatStats;
  /** The push URL for a node id, or null for poll only. */
  pushUrl(nodeId: string): string | null;
}

export class SimNode {
  nodeId = '';
  private credential = '';
  private intervalMs = 5_000;
  private applied = 0;
  private readonly tasks = new Map<string, ObservedTask>();
  /** Tasks that crashed: reported once as exited, then "restarted" (healthy) after that heartbeat. */
  private readonly restarting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private inFlight = false;
  private failing = false;
  private dirty = false;
  private alive = true;
  private readonly backoff = new Backoff(500, 30_000, true);

  constructor(
    readonly name: string,
    private readonly address: string,
    private readonly ctx: NodeContext,
  ) {}

  get taskCount(): number {
    return this.tasks.size;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** One registration attempt; the caller retries. */
  async register(joinToken: string): Promise<void> {
    const body: RegisterRequest = { name: this.name, address: this.address, labels: {}, capacity: CAPACITY, portRange: PORT_RANGE };
    const res = await this.ctx.api.call<RegisterResponse>('POST', '/scheduler/v1/nodes/register', joinToken, body, AGENT_TIMEOUT_MS);
    this.nodeId = res.nodeId;
    this.credential = res.credential;
    this.intervalMs = res.heartbeatIntervalMs;
  }

  /** Starts heartbeating after `phaseMs`, so a fleet's heartbeats spread over the interval. */
  start(phaseMs: number): void {
    this.schedule(phaseMs);
  }

  /** The node goes silent, as a machine that lost power: no heartbeats, pushes unanswered. */
  kill(): void {
    this.alive = false;
    clearTimeout(this.timer);
    clearTimeout(this.debounce);
  }

  /** Applies the newest desired state only (pushes and heartbeat answers race); a change brings the next heartbeat forward. */
  apply(desired: DesiredState): number {
    if (!this.alive || desired.generation <= this.applied) return this.applied;
    this.applied = desired.generation;
    const wanted = new Set(desired.tasks.map((t) => t.id));
    for (const id of this.tasks.keys()) {
      if (!wanted.has(id)) this.tasks.delete(id);
    }
    for (const spec of desired.tasks) {
      if (!this.tasks.has(spec.id)) {
        this.tasks.set(spec.id, { id: spec.id, state: 'healthy', pid: 1000 + this.tasks.size, restarts: 0, rssBytes: 30 << 20 });
      }
    }
    this.poke();
    return this.applied;
  }

  /** One task exits (code 1): reported at once, healthy again after that heartbeat (the agent restarts it). */
  crashOneTask(): boolean {
    const task = [...this.tasks.values()].find((t) => t.state === 'healthy');
    if (!this.alive || !task) return false;
    Object.assign(task, { state: 'exited', exitCode: 1, restarts: task.restarts + 1, message: 'exited with code 1' });
    this.restarting.add(task.id);
    this.poke();
    return true;
  }

  private poke(): void {
    if (this.debounce || !this.alive) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.dirty = true;
      // While failing the agent waits out its backoff: no early wake against a struggling control plane.
      if (!this.inFlight && !this.failing) this.schedule(0);
    }, POKE_DEBOUNCE_MS);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.alive) this.timer = setTimeout(() => void this.beat(), ms);
  }

  private report(): HeartbeatRequest {
    const tasks = [...this.tasks.values()].map((t) => ({ ...t, cpuMillis: Math.floor(Math.random() * 5) }));
    return { appliedGeneration: this.applied, tasks, pushUrl: this.ctx.pushUrl(this.nodeId) };
  }

  private async beat(): Promise<void> {
    this.inFlight = true;
    this.failing = false;
    this.dirty = false;
    const reported = [...this.restarting];
    const started = performance.now();
    try {
      const path = `/scheduler/v1/nodes/${this.nodeId}/heartbeat`;
      const res = await this.ctx.api.call<HeartbeatResponse>('POST', path, this.credential, this.report(), AGENT_TIMEOUT_MS);
      if (!this.alive) return;
      const desired = res.desired === undefined ? undefined : parseDesired(res.desired);
      this.ctx.stats.heartbeat(performance.now() - started);
      this.backoff.reset();
      if (res.heartbeatIntervalMs > 0) this.intervalMs = res.heartbeatIntervalMs;
      for (const id of reported) this.restart(id);
      if (desired) this.apply(desired);
      this.inFlight = false;
      this.schedule(this.dirty ? 0 : this.intervalMs);
    } catch (err) {
      if (!this.alive) return;
      const e = err instanceof ApiError ? err : new ApiError('bench', (err as Error).message);
      this.ctx.stats.heartbeatFailed(e.kind, e.message, e.status !== undefined);
      this.inFlight = false;
      this.failing = true;
      // As the agent: never longer than one interval, or a few failed heartbeats in a row would
      // outlast the loss threshold (two intervals and a margin) and a live node would flap.
      this.schedule(this.backoff.next(this.intervalMs));
    }
  }

  private restart(id: string): void {
    this.restarting.delete(id);
    const task = this.tasks.get(id);
    if (!task) return;
    Object.assign(task, { state: 'healthy', message: undefined });
    this.poke();
  }
}

function parseDesired(raw: unknown): DesiredState {
  const desired = DesiredState.safeParse(raw);
  if (!desired.success) throw new ApiError('invalid_desired_state', `heartbeat answer carries an invalid desired state: ${desired.error.message}`);
  return desired.data;
}
