import type { Backend, Target } from './route-table.js';

/**
 * Least outstanding requests over a target's backends, ties broken round robin (so an idle
 * service is plain round robin), skipping ones that just failed. The table only changes when the
 * control plane notices a dead task (seconds later, or never for a frozen VM whose agent is fine);
 * until then:
 * - a backend that refused a connection is skipped for `penaltyMs`;
 * - passive health (issue 14 point 2, Envoy's outlier detection): after `ejectAfter` consecutive
 *   connect failures or timeouts with no success in between, a backend is ejected for `ejectMs`.
 * A skipped or ejected backend is still used when every other one is too (trying beats failing
 * without trying). A slow backend piles up requests in flight and gets fewer new ones.
 */
export class Balancer {
  /** Skipped until this time (a refused connection, or an ejection). */
  private readonly failedUntil = new Map<string, number>();
  /** Consecutive failures since the last success. */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly penaltyMs = 2_000,
    /** Requests in flight to a backend. */
    private readonly load: (backend: Backend) => number = () => 0,
    private readonly ejectAfter = 3,
    private readonly ejectMs = 30_000,
    private readonly log: (m: string) => void = () => {},
  ) {}

  /**
   * The least loaded backend from the cursor on, preferring ones not failed; never `exclude` when
   * there is another (compared by key: it may come from an older table).
   */
  pick(target: Target, exclude?: Backend): Backend | undefined {
    const { backends } = target;
    const n = backends.length;
    if (n === 0) return undefined;
    const now = this.failedUntil.size > 0 ? Date.now() : 0;
    let best: Backend | undefined;
    let bestAt = 0;
    let bestLoad = Infinity;
    let fallback: Backend | undefined;
    for (let i = 0; i < n; i++) {
      const at = (target.cursor + i) % n;
      const backend = backends[at]!;
      if (exclude !== undefined && backend.key === exclude.key) continue;
      if (now !== 0 && (this.failedUntil.get(backend.key) ?? 0) > now) {
        fallback ??= backend;
        continue;
      }
      const load = this.load(backend);
      if (load < bestLoad) {
        best = backend;
        bestAt = at;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    if (best) {
      target.cursor = (bestAt + 1) % n;
      return best;
    }
    // Every other backend is penalised: try one anyway rather than fail without trying.
    if (fallback) target.cursor = (target.cursor + 1) % n;
    return fallback;
  }

  /** Another backend of the target that is neither `backend` nor skipped (stops at the first found). */
  hasAlternative(target: Target, backend: Backend): boolean {
    const now = this.failedUntil.size > 0 ? Date.now() : 0;
    for (const other of target.backends) {
      if (other !== backend && (now === 0 || (this.failedUntil.get(other.key) ?? 0) <= now)) return true;
    }
    return false;
  }

  /** A connect failure or timeout: `refused` (the app is not listening) also skips it for a moment. */
  markFailed(backend: Backend, code: string, refused: boolean): void {
    const { key } = backend;
    const n = (this.failures.get(key) ?? 0) + 1;
    if (n >= this.ejectAfter) {
      this.failures.delete(key);
      this.failedUntil.set(key, Date.now() + this.ejectMs);
      this.log(`backend ${key} ejected for ${this.ejectMs} ms after ${n} consecutive failures (last: ${code})`);
      return;
    }
    this.failures.set(key, n);
    if (refused) this.failedUntil.set(key, Math.max(this.failedUntil.get(key) ?? 0, Date.now() + this.penaltyMs));
  }

  markOk(backend: Backend): void {
    if (this.failures.size > 0) this.failures.delete(backend.key);
    if (this.failedUntil.size > 0) this.failedUntil.delete(backend.key);
  }

  /** Forgets backends that left the route table. */
  retain(keys: Set<string>): void {
    for (const key of this.failures.keys()) if (!keys.has(key)) this.failures.delete(key);
    for (const key of this.failedUntil.keys()) if (!keys.has(key)) this.failedUntil.delete(key);
  }
}
