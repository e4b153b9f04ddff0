/** Capped exponential backoff. Jitter spreads reconnecting agents so they don't hit the control plane in lockstep. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly jitter: boolean,
  ) {}

  /** Delay before the next try; each call doubles it up to the cap (`capMs`: a lower one for this call). */
  next(capMs = this.capMs): number {
    const delay = Math.min(capMs, this.capMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // "Equal jitter": keep at least half the delay so retries still back off.
    return this.jitter ? delay / 2 + Math.random() * (delay / 2) : delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
