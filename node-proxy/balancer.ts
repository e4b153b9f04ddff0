import type { Backend, Target } from './route-table.js';

/**
 * Round robin over a target's backends, skipping ones that just refused a connection. The table
 * only changes when the control plane notices a dead task (seconds later); until then this keeps
 * most requests from paying for a failed connect first.
 */
export class Balancer {
  private readonly failedUntil = new Map<string, number>();

  constructor(private readonly penaltyMs = 2_000) {}

  /** The next backend after the cursor, preferring ones not recently failed; never `exclude` when there is another. */
  pick(target: Target, exclude?: Backend): Backend | undefined {
    const { backends } = target;
    const n = backends.length;
    if (n === 0) return undefined;
    const now = Date.now();
    let fallback: Backend | undefined;
    for (let i = 0; i < n; i++) {
      const backend = backends[(target.cursor + i) % n]!;
      if (backend === exclude) continue;
      if ((this.failedUntil.get(backend.key) ?? 0) <= now) {
        target.cursor = (target.cursor + i + 1) % n;
        return backend;
      }
      fallback ??= backend;
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
