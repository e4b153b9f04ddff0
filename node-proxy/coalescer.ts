/**
 * One run at a time, and triggers that arrive during a run cause exactly one more run after it, so
 * a burst of NOTIFYs or epoch changes costs at most two trips to the database.
 * `step` returns false to end the series early (the database is down; the next trigger retries).
 */
export class Coalescer {
  private inFlight: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly step: () => Promise<boolean>,
    private readonly stopped: () => boolean,
  ) {}

  trigger(): Promise<void> {
    if (this.stopped()) return Promise.resolve();
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      do {
        this.again = false;
        if (!(await this.step())) return;
      } while (this.again && !this.stopped());
    })().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** The run in progress, if any: close() waits for it. */
  running(): Promise<void> | null {
    return this.inFlight;
  }
}
