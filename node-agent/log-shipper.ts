/**
 * Tails every task's log spool and ships unacked entries in batches to POST /api/v1/tasks/:id/logs.
 * The API is idempotent by (task, seq) and answers the highest contiguous seq stored, so after an
 * outage shipping resumes from that seq: nothing lost, nothing stored twice. A task that is behind
 * gets several batches in flight at once, and rounds follow each other without waiting for the next
 * tick, until it has caught up. Batches are bounded by bytes as well as entries, so what is in
 * flight stays small whatever the lines' length; the spool builds them as bytes (log-batch.ts), and
 * they are all the agent holds in memory of unshipped lines.
 */
import { appendFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import type { LogAck } from '../protocol/index.js';
import { Backoff } from './backoff.js';
import { HttpError, postEncodedJson } from './http-json.js';
import type { LogBatchBody } from './log-batch.js';
import type { LogSpool } from './log-spool.js';
import type { Metrics } from './metrics.js';

const TICK_MS = 100;
const SHIP_EVERY_MS = 250;
/** Batches of one task in flight at once when it is behind. */
const MAX_IN_FLIGHT = 4;
/** How often ZECTRE_AGENT_MEMORY_TRACE samples process.memoryUsage(). */
const MEMORY_TRACE_MS = 200;

interface Shipping {
  spool: LogSpool;
  /** The task is gone: ship what is left, then delete its directory. */
  removeDir?: string;
  retryAt: number;
  backoff: Backoff;
}

export class LogShipper {
  private readonly spools = new Map<string, Shipping>();
  private timer: NodeJS.Timeout | undefined;
  private shipping: Promise<void> | undefined;
  private lastShip = 0;
  private stopped = false;
  private memoryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly apiUrl: string,
    private readonly credential: () => string,
    private readonly metrics: Metrics,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    // Debugging aid for operators: where the agent's memory goes during a log flood (README).
    const trace = process.env.ZECTRE_AGENT_MEMORY_TRACE;
    if (trace) {
      this.memoryTimer = setInterval(() => appendFileSync(trace, `${JSON.stringify({ t: Date.now(), ...process.memoryUsage(), ...heapSpaces() })}\n`), MEMORY_TRACE_MS);
      this.memoryTimer.unref();
    }
  }

  add(spool: LogSpool): void {
    this.spools.set(spool.taskId, { spool, retryAt: 0, backoff: new Backoff(500, 30_000, true) });
  }

  /** The task was removed: drain its spool, then delete `dir` (its whole task directory). */
  close(taskId: string, dir: string): void {
    const s = this.spools.get(taskId);
    if (s) s.removeDir = dir;
    else void rm(dir, { recursive: true, force: true });
  }


  /** Best-effort final delivery, bounded by timeoutMs; what is left stays spooled for the next start. */
  async stop(timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.memoryTimer);
    this.stopped = true;
    const deadline = Date.now() + timeoutMs;
    for (const s of this.spools.values()) {
      s.spool.poll();
      s.retryAt = 0;
    }
    while (this.unshipped() > 0 && Date.now() < deadline) {
      await Promise.race([this.ship(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
      if (this.unshipped() > 0) await new Promise((r) => setTimeout(r, 50));
    }
  }

  private unshipped(): number {
    let n = 0;
    for (const s of this.spools.values()) if (s.spool.unshipped) n++;
    return n;
  }

  private tick(): void {
    let fresh = 0;
    for (const s of this.spools.values()) fresh += s.spool.poll();
    if (fresh >= 200 || Date.now() - this.lastShip >= SHIP_EVERY_MS) void this.ship();
  }

  /**
   * Rounds over all spools until none made progress (caught up, or failing); rounds never overlap,
   * so a batch is never sent twice at once.
   */
  private ship(): Promise<void> {
    this.lastShip = Date.now();
    this.shipping ??= (async () => {
      while (await this.shipRound()) this.lastShip = Date.now();
    })().finally(() => (this.shipping = undefined));
    return this.shipping;
  }

  /** True when some spool shipped a full batch, so more may be waiting. */
  private async shipRound(): Promise<boolean> {
    const now = Date.now();
    const sends: Promise<boolean>[] = [];
    for (const [taskId, s] of this.spools) {
      if (!s.spool.unshipped) {
        if (s.removeDir) {
          this.spools.delete(taskId);
          s.spool.release();
          await rm(s.removeDir, { recursive: true, force: true });
        }
      } else if (s.retryAt <= now) {
        // Behind: up to MAX_IN_FLIGHT batches at once (the API acks the contiguous run, in any order).
        for (const batch of s.spool.batches(MAX_IN_FLIGHT)) sends.push(this.shipBatch(taskId, s, batch));
      }
    }
    const shipped = await Promise.all(sends);
    return shipped.some(Boolean) && !this.stopped;
  }

  /** True when a full batch was stored. */
  private async shipBatch(taskId: string, s: Shipping, batch: LogBatchBody): Promise<boolean> {
    const { first, last, full } = batch;
    const url = `${this.apiUrl}/api/v1/tasks/${encodeURIComponent(taskId)}/logs`;
    // Held while in flight: an ack (of this send or another) must not let another batch reuse its bytes meanwhile.
    batch.hold();
    let bodyDone = false;
    try {
      const { ackedSeq } = await postEncodedJson<LogAck>(url, this.credential(), batch.body, { bodyDone: () => (bodyDone = true) });
      const before = s.spool.ackedSeq;
      s.spool.ack(ackedSeq);
      this.metrics.linesShipped.inc(Math.max(0, s.spool.ackedSeq - before));
      s.backoff.reset();
      s.retryAt = 0;
      return full;
    } catch (err) {
      if (err instanceof HttpError && isRejection(err.status)) {
        // e.g. 404: the task no longer exists on the control plane; these lines have nowhere to go.
        this.log(`log shipper: dropping lines ${first}-${last} of task ${taskId}: ${err.message}`);
        this.metrics.linesDropped.inc(last - first + 1);
        s.spool.ack(last);
        return true;
      }
      s.retryAt = Date.now() + s.backoff.next();
      return false;
    } finally {
      batch.release(bodyDone);
    }
  }
}

/** The young and old generations' sizes (of heapTotal): which one a rise is in tells whether objects outlive young GCs. */
function heapSpaces(): { newSpace: number; oldSpace: number } {
  const spaces = getHeapSpaceStatistics();
  const size = (name: string) => spaces.find((s) => s.space_name === name)?.space_size ?? 0;
  return { newSpace: size('new_space'), oldSpace: size('old_space') };
}

/** 4xx other than auth/timeout/rate-limit means the batch itself is refused: resending won't help. */
function isRejection(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status);
}
