/**
 * Notices that the agent did not run for a while (SIGSTOP, a paused VM, a machine resumed from
 * suspend): a timer that fires far later than it should. Meanwhile the control plane may have
 * declared the node lost and replaced its tasks, so the agent's own picture is stale: after such a
 * pause no task is started or restarted until a heartbeat sent after it was answered and applied.
 */
const TICK_MS = 500;

export class PauseWatch {
  private last = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private held: Promise<void> | undefined;
  private started = false;

  constructor(
    /** A gap longer than this is a pause (two heartbeat intervals: a node is lost after three). */
    private readonly thresholdMs: () => number,
    /** Heartbeat now; resolves once an answer to a heartbeat sent from now on was applied. */
    private readonly confirm: () => Promise<void>,
    private readonly log: (msg: string) => void,
  ) {}

  /** From now on (registration may have taken long: that is no pause). */
  start(): void {
    this.started = true;
    this.last = Date.now();
    this.timer = setInterval(() => this.check(), TICK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Resolves at once, unless the agent was paused: then once the control plane answered. Checks the
   * clock itself, since a restart timer due during the pause may fire before the watch's own tick.
   */
  mayStart(): Promise<void> {
    this.check();
    return this.held ?? Promise.resolve();
  }

  private check(): void {
    if (!this.started) return;
    const now = Date.now();
    const gap = now - this.last;
    this.last = now;
    if (gap <= Math.max(this.thresholdMs(), TICK_MS * 4) || this.held) return;
    this.log(`the agent did not run for ${(gap / 1000).toFixed(1)} s (stopped or paused): heartbeat first; no task starts or restarts until the control plane answers`);
    this.held = this.confirm()
      .then(() => this.log('the control plane answered after the pause: its desired state is applied, tasks may start again'))
      .finally(() => (this.held = undefined));
  }
}
