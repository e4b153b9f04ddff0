/** Reports observed state to the scheduler and applies the desired state its answers carry (the poll path). */
import { DesiredState, HeartbeatRequest, type HeartbeatResponse } from '../protocol/index.js';
import { Backoff } from './backoff.js';
import { HttpError, postJson } from './http-json.js';
import type { Identity } from './identity.js';

export interface HeartbeatDeps {
  apiUrl: string;
  identity: () => Identity;
  /** The credential was refused (401): register again and continue with the new identity. */
  reRegister: () => Promise<void>;
  report: () => HeartbeatRequest;
  apply: (desired: DesiredState) => void;
  onRoundTrip: (seconds: number) => void;
  log: (msg: string) => void;
}

/** Coalesces bursts of task state changes into one prompt heartbeat. */
const POKE_DEBOUNCE_MS = 50;
const DEFAULT_INTERVAL_MS = 5_000;

export class HeartbeatLoop {
  private intervalMs = DEFAULT_INTERVAL_MS;
  private dirty = false;
  private wake: (() => void) | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  /** Heartbeats sent so far, and callers waiting for the answer to one sent after they asked. */
  private sent = 0;
  private waiting: { after: number; resolve: () => void }[] = [];

  constructor(private readonly deps: HeartbeatDeps) {}

  start(intervalMs?: number): void {
    if (intervalMs) this.intervalMs = intervalMs;
    this.running = this.loop();
  }

  /** A task's observed state changed: heartbeat soon instead of at the next interval. */
  poke(): void {
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.dirty = true;
      this.wake?.();
    }, POKE_DEBOUNCE_MS);
  }

  get interval(): number {
    return this.intervalMs;
  }

  /** Heartbeats now; resolves once the answer to a heartbeat sent after this call was applied. */
  confirm(): Promise<void> {
    const answered = new Promise<void>((resolve) => this.waiting.push({ after: this.sent, resolve }));
    this.dirty = true;
    this.wake?.();
    return answered;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(500, 30_000, true);
    while (!this.stopped) {
      this.dirty = false;
      try {
        await this.beat();
        backoff.reset();
        await this.sleep(this.dirty ? 0 : this.intervalMs, true);
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof HttpError && err.status === 401 && (await this.tryReRegister())) continue;
        // Never longer than one interval (jittered): the control plane declares a node lost after three
        // silent intervals, so after an outage every agent is back well within that, not 30 s later.
        const delay = backoff.next(this.intervalMs);
        this.deps.log(`heartbeat failed: ${(err as Error).message}; retrying in ${Math.round(delay)} ms`);
        await this.sleep(delay, false); // no early wake while failing: don't hammer a struggling control plane
      }
    }
  }

  private async tryReRegister(): Promise<boolean> {
    this.deps.log('heartbeat credential refused (401): registering again');
    try {
      await this.deps.reRegister();
      return true;
    } catch (err) {
      this.deps.log(`registering again failed: ${(err as Error).message}`);
      return false;
    }
  }

  private async beat(): Promise<void> {
    const { nodeId, credential } = this.deps.identity();
    const url = `${this.deps.apiUrl}/scheduler/v1/nodes/${encodeURIComponent(nodeId)}/heartbeat`;
    const sentAt = performance.now();
    const seq = ++this.sent;
    const res = await postJson<HeartbeatResponse>(url, credential, HeartbeatRequest.parse(this.deps.report()));
    this.deps.onRoundTrip((performance.now() - sentAt) / 1000);
    if (Number.isInteger(res.heartbeatIntervalMs) && res.heartbeatIntervalMs > 0) this.intervalMs = res.heartbeatIntervalMs;
    if (res.desired !== undefined) {
      const desired = DesiredState.safeParse(res.desired);
      if (!desired.success) throw new Error(`heartbeat answer from ${url} carries an invalid desired state: ${desired.error.message}`);
      this.deps.apply(desired.data);
    }
    const answered = this.waiting.filter((w) => w.after < seq);
    this.waiting = this.waiting.filter((w) => w.after >= seq);
    for (const w of answered) w.resolve();
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // stop() must always interrupt the wait; pokes only when wakeable.
      this.wake = wakeable ? done : () => this.stopped && done();
    });
  }
}
