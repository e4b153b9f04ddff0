/** Probes a task's HTTP health endpoint and reports when it turns healthy or unhealthy. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthCheck } from '../protocol/index.js';
import { request } from './http-client.js';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** While a task is starting, probe this often so a deploy turns healthy within a fraction of a second. */
const EAGER_INTERVAL_MS = 150;
const FAILURES_TO_UNHEALTHY = 3;

export class HealthChecker {
  private readonly abort = new AbortController();

  /**
   * `status` is where it starts: 'starting' for a new process (probed after the grace period); a
   * re-adopted process keeps the health it had under the previous agent until a probe says otherwise
   * (no grace: it was served already).
   */
  constructor(
    private readonly port: number,
    private readonly check: HealthCheck,
    private readonly onChange: (status: HealthStatus) => void,
    private status: HealthStatus = 'starting',
  ) {}

  start(): void {
    // The loop only rejects when stop() aborts one of its sleeps.
    this.loop().catch(() => undefined);
  }

  stop(): void {
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    if (this.status === 'starting') await sleep(this.check.graceMs, undefined, { signal });
    const probingSince = Date.now();
    let failures = 0;
    while (!signal.aborted) {
      const ok = await this.probe();
      if (signal.aborted) return;
      if (ok) {
        failures = 0;
        this.set('healthy');
      } else if (this.status === 'starting') {
        // A booting app gets the same budget as a running one: three intervals without a success.
        if (Date.now() - probingSince >= FAILURES_TO_UNHEALTHY * this.check.intervalMs) this.set('unhealthy');
      } else if (++failures >= FAILURES_TO_UNHEALTHY) {
        this.set('unhealthy');
      }
      const wait = this.status === 'starting' ? Math.min(EAGER_INTERVAL_MS, this.check.intervalMs) : this.check.intervalMs;
      await sleep(wait, undefined, { signal });
    }
  }

  private set(status: HealthStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.onChange(status);
  }

  /** One GET; 2xx and 3xx count as healthy (redirects are not followed). */
  private async probe(): Promise<boolean> {
    try {
      const res = await request(`http://127.0.0.1:${this.port}${this.check.path}`, {
        signal: AbortSignal.any([AbortSignal.timeout(this.check.timeoutMs), this.abort.signal]),
      });
      res.resume();
      const status = res.statusCode ?? 0;
      return status >= 200 && status < 400;
    } catch {
      return false;
    }
  }
}
