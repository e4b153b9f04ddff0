/** What the simulated nodes' requests did: heartbeat latencies and errors by kind, per measurement window and for the whole run. */

export class ErrorCounts {
  readonly byKind = new Map<string, number>();
  /** One full message per kind, to show what it was. */
  readonly example = new Map<string, string>();

  add(kind: string, message: string): void {
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    if (!this.example.has(kind)) this.example.set(kind, message);
  }

  get total(): number {
    let n = 0;
    for (const v of this.byKind.values()) n += v;
    return n;
  }

  /** "12 (8 × 503 internal, 4 × timeout)" or "0". */
  summary(): string {
    if (!this.total) return '0';
    const parts = [...this.byKind].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n} × ${kind}`);
    return `${this.total} (${parts.join(', ')})`;
  }
}

export interface HeartbeatWindow {
  ok: number;
  /** Answered with a non-2xx status: the Worker did the work of answering. */
  httpErrors: number;
  latenciesMs: number[];
  errors: ErrorCounts;
}

export class HeartbeatStats {
  /** Every error of the run (registration, setup, heartbeats), by kind. */
  readonly allErrors = new ErrorCounts();
  private window: HeartbeatWindow | undefined;

  heartbeat(latencyMs: number): void {
    if (!this.window) return;
    this.window.ok++;
    this.window.latenciesMs.push(latencyMs);
  }

  heartbeatFailed(kind: string, message: string, answered: boolean): void {
    this.allErrors.add(`heartbeat ${kind}`, message);
    if (!this.window) return;
    this.window.errors.add(kind, message);
    if (answered) this.window.httpErrors++;
  }

  /** Errors of other requests (register, API calls): only in the run's total. */
  requestFailed(what: string, kind: string, message: string): void {
    this.allErrors.add(`${what} ${kind}`, message);
  }

  startWindow(): void {
    this.window = { ok: 0, httpErrors: 0, latenciesMs: [], errors: new ErrorCounts() };
  }

  endWindow(): HeartbeatWindow {
    const w = this.window!;
    this.window = undefined;
    return w;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
