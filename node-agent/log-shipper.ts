/** Buffers task log lines in memory and ships them in batches to POST /api/v1/tasks/:id/logs. */
import type { LogAck, LogBatch, LogEntry, LogStream } from '../protocol/index.js';
import { Backoff } from './backoff.js';
import { HttpError, postJson } from './http-json.js';

const SHIP_EVERY_MS = 250;
const SHIP_EARLY_AT = 200;
const MAX_BATCH = 1_000;
/** Bounds memory while the control plane is down; the oldest lines go first. */
const MAX_BUFFERED = 50_000;

interface TaskLog {
  nextSeq: number;
  pending: LogEntry[];
  closing: boolean;
  retryAt: number;
  backoff: Backoff;
}

export class LogShipper {
  private readonly tasks = new Map<string, TaskLog>();
  private timer: NodeJS.Timeout | undefined;
  private shipping: Promise<void> | undefined;

  constructor(
    private readonly apiUrl: string,
    private readonly credential: () => string,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.ship(), SHIP_EVERY_MS);
  }

  append(taskId: string, stream: LogStream, line: string): void {
    const task = this.taskLog(taskId);
    task.pending.push({ seq: task.nextSeq++, ts: Date.now(), stream, line });
    if (task.pending.length > MAX_BUFFERED) task.pending.splice(0, task.pending.length - MAX_BUFFERED);
    if (task.pending.length >= SHIP_EARLY_AT) void this.ship();
  }

  /** The task is gone: ship what is left, then forget it. */
  close(taskId: string): void {
    const task = this.tasks.get(taskId);
    if (task) task.closing = true;
  }

  /** Best-effort final delivery, bounded by timeoutMs; then stops the timer. */
  async stop(timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    for (const task of this.tasks.values()) task.retryAt = 0;
    while (this.buffered() > 0 && Date.now() < deadline) {
      await Promise.race([this.ship(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
      if (this.buffered() > 0) await new Promise((r) => setTimeout(r, 50));
    }
    if (this.buffered() > 0) this.log(`log shipper: dropped ${this.buffered()} unshipped lines on stop`);
  }

  private buffered(): number {
    let n = 0;
    for (const task of this.tasks.values()) n += task.pending.length;
    return n;
  }

  private taskLog(taskId: string): TaskLog {
    let task = this.tasks.get(taskId);
    if (!task) {
      task = { nextSeq: 1, pending: [], closing: false, retryAt: 0, backoff: new Backoff(500, 30_000, true) };
      this.tasks.set(taskId, task);
    }
    return task;
  }

  /** One round over all tasks; rounds never overlap, so a batch is never sent twice at once. */
  private ship(): Promise<void> {
    this.shipping ??= this.shipRound().finally(() => (this.shipping = undefined));
    return this.shipping;
  }

  private async shipRound(): Promise<void> {
    const now = Date.now();
    const sends: Promise<void>[] = [];
    for (const [taskId, task] of this.tasks) {
      if (task.pending.length === 0) {
        if (task.closing) this.tasks.delete(taskId);
      } else if (task.retryAt <= now) {
        sends.push(this.shipBatch(taskId, task));
      }
    }
    await Promise.all(sends);
  }

  private async shipBatch(taskId: string, task: TaskLog): Promise<void> {
    const entries = task.pending.slice(0, MAX_BATCH);
    const first = entries[0]!.seq;
    const last = entries[entries.length - 1]!.seq;
    const url = `${this.apiUrl}/api/v1/tasks/${encodeURIComponent(taskId)}/logs`;
    try {
      const { ackedSeq } = await postJson<LogAck>(url, this.credential(), { entries } satisfies LogBatch);
      // A gap before this batch (lines dropped on overflow) can never be filled: count the batch as delivered.
      const through = ackedSeq < first - 1 ? last : ackedSeq;
      task.pending = task.pending.filter((e) => e.seq > through);
      task.backoff.reset();
      task.retryAt = 0;
    } catch (err) {
      if (err instanceof HttpError && isRejection(err.status)) {
        this.log(`log shipper: dropping lines ${first}-${last} of task ${taskId}: ${err.message}`);
        task.pending = task.pending.filter((e) => e.seq > last);
        return;
      }
      task.retryAt = Date.now() + task.backoff.next();
    }
  }
}

/** 4xx other than auth/timeout/rate-limit means the batch itself is refused: resending won't help. */
function isRejection(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status);
}
