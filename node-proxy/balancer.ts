import type { Backend, Target } from './route-table.js';

/**
 * Least outstanding requests over a target's backends, ties broken round robin (so an idle
 * service is plain round robin), skipping ones that just refused a connection. The table only
 * changes when the control plane notices a dead task (seconds later); until then the penalty keeps
 * most requests from paying for a failed connect first. A slow backend piles up requests in flight
 * and gets fewer new ones.
 */
export class Balancer {
  private readonly failedUntil = new Map<string, number>();

  constructor(
    private readonly penaltyMs = 2_000,
    /** Requests in flight to a backend. */
    private readonly load: (backend: Backend) => number = () => 0,
  ) {}

  /** The least loaded backend from the cursor on, preferring ones not recently failed; never `exclude` when there is another. */
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
      if (backend === exclude) continue;
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

  markFailed(backend: Backend): void {
    this.failedUntil.set(backend.key, Date.now() + this.penaltyMs);
  }

  markOk(backend: Backend): void {
    if (this.failedUntil.size > 0) this.failedUntil.delete(backend.key);
  }
}
