import { MAX_FOREIGN_PORTS } from '../protocol/index.js';

/** How long a port found held by another process stays avoided (the scheduler assigns it to no task). */
export const FOREIGN_PORT_AVOID_MS = 10 * 60_000;

/**
 * Ports of this node's task range that a task found held by a process that is not ours (another
 * program, a leftover), reported in every heartbeat so the scheduler assigns none of them. Each is
 * forgotten after `avoidMs` (the squatter may be gone by then; if not, the next task there finds it
 * again) and at most MAX_FOREIGN_PORTS are kept, the oldest dropped first, so the report stays small.
 */
export class ForeignPorts {
  /** Port -> when it was last found held; insertion order = age. */
  private readonly seen = new Map<number, number>();

  constructor(
    private readonly avoidMs = FOREIGN_PORT_AVOID_MS,
    private readonly now: () => number = Date.now,
  ) {}

  add(port: number): void {
    this.seen.delete(port);
    this.seen.set(port, this.now());
    while (this.seen.size > MAX_FOREIGN_PORTS) this.seen.delete(this.seen.keys().next().value!);
  }

  /** The ports still avoided, ascending. */
  list(): number[] {
    const cutoff = this.now() - this.avoidMs;
    for (const [port, at] of this.seen) if (at <= cutoff) this.seen.delete(port);
    return [...this.seen.keys()].sort((a, b) => a - b);
  }
}
