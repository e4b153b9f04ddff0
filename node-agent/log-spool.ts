/**
 * A task's log spool on disk. The app writes stdout/stderr straight into two files (so it never
 * gets EPIPE when the agent dies); the agent tails them and appends numbered, redacted entries to
 * spool segments (spool-segments.ts). Each spool record carries the byte offsets of the raw files
 * after its line, so a restarted agent resumes exactly where it stopped: no line read twice, none
 * skipped. Raw bytes already spooled are then freed (raw-discard.ts), so unredacted output does not
 * stay on disk. The spool is bounded by bytes on disk (a budget shared by the agent's spools), not by
 * lines; unshipped entries wait on disk, and memory holds only the few batches the shipper has asked
 * for, as bytes (log-batch.ts): raw output is read and spooled a slice at a time, and read back a
 * record at a time, so a flood costs disk, not memory.
 * Everything here is 0600 in 0700 directories of the root-only state.
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogBatch, LogEntry, LogStream } from '../protocol/index.js';
import { BatchBuilder, MAX_BATCH, type LogBatchBody } from './log-batch.js';
import { punchHole } from './raw-discard.js';
import { SpoolSegments, type SpoolBudget, type SpoolRecord } from './spool-segments.js';

type RawStream = 'stdout' | 'stderr';
const RAW: RawStream[] = ['stdout', 'stderr'];
/** Default bytes on disk of all of an agent's spools; beyond it lines are dropped and an explicit "N lines dropped" entry is written. */
export const DEFAULT_SPOOL_BYTES = 256 << 20;
/** Batches pending() decodes at most (it serves tests and inspection, not the shipper). */
const PENDING_BATCHES = 8;
/** Raw bytes read per stream and poll: 5 MB/s per stream at the shipper's tick. */
const MAX_READ_BYTES = 512 << 10;
/**
 * Raw bytes taken at a time (through one reused buffer) and spooled before the next slice is read:
 * the entries of a whole poll alive at once made V8 grow its heap by tens of MB in a flood. Over
 * twice the longest line waited for (MAX_LINE_CHARS * 4), so an unterminated line is always cut.
 */
const SLICE_BYTES = 128 << 10;
const readBuffer = Buffer.allocUnsafe(SLICE_BYTES);
/**
 * Entries spooled at a time within a slice: the fewer alive at once, the fewer outlive a young GC
 * (with a small young generation, a whole slice's entries were promoted and piled up in the old one).
 */
const WRITE_ENTRIES = 128;
/** The protocol's line limit; longer lines are cut. */
const MAX_LINE_CHARS = 16_384;
/** Spool bytes a line is counted as before it is written: its record's JSON around the line. */
const RECORD_OVERHEAD_BYTES = 80;
const NOTICE_BYTES = 2 * RECORD_OVERHEAD_BYTES;
const MIN_SECRET_CHARS = 4;
/** Raw bytes are freed at most this often per task: a bound on how long unredacted output stays on disk. */
const DISCARD_EVERY_MS = 1_000;

export class LogSpool {
  private offsets: [number, number] = [0, 0];
  private nextSeq = 1;
  private acked = 0;
  private dropped = 0;
  /**
   * Unacked entries in memory, oldest first: built batches (the shipper's next ones, some perhaps in
   * flight), a window onto the spool on disk. Each batch's body is its own and never changes.
   */
  private window: LogBatchBody[] = [];
  private readonly segments: SpoolSegments;
  /** undefined until the task's env values are known (after an agent restart): raw output is not read meanwhile. */
  private secrets: string[] | undefined;
  /** Raw offsets up to which the bytes are freed, and when that was last done. */
  private discarded: [number, number] = [0, 0];
  private discarding = false;
  private lastDiscard = 0;

  private readonly onDropped: (lines: number) => void;

  constructor(
    readonly taskId: string,
    readonly dir: string,
    /** secretValues undefined: not known yet, see setSecrets. budget: shared by the agent's spools (default: its own, DEFAULT_SPOOL_BYTES). */
    opts: { secretValues: string[] | undefined; onDropped?: (lines: number) => void; budget?: SpoolBudget },
  ) {
    this.onDropped = opts.onDropped ?? (() => undefined);
    if (opts.secretValues) this.setSecrets(opts.secretValues);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.segments = new SpoolSegments(dir, opts.budget ?? { limitBytes: DEFAULT_SPOOL_BYTES, usedBytes: 0 });
    this.recover();
  }

  /** The values to redact; raw output is read only from now on, since nothing could be redacted before. */
  setSecrets(values: string[]): void {
    // Longest first, so a secret that contains another is redacted whole.
    this.secrets = values.filter((v) => v.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
  }

  rawPath(stream: RawStream): string {
    return join(this.dir, `${stream}.raw`);
  }

  get ackedSeq(): number {
    return this.acked;
  }

  /**
   * The next batches of unacked entries, oldest first, at most `max` (at least one when any entry is
   * unacked), read back from disk as needed. The same batches come back until acknowledged; each
   * ends where a limit (log-batch.ts) or the entries written so far end.
   */
  batches(max: number): readonly LogBatchBody[] {
    if (this.window.length < max && this.acked < this.nextSeq - 1) {
      const after = Math.max(this.acked, this.window.at(-1)?.last ?? 0);
      const builder = new BatchBuilder();
      this.segments.readBack((record) => {
        const added = builder.add(record, after);
        if (added !== 'full') return true;
        this.window.push(builder.close(true));
        return this.window.length < max && builder.add(record, after) === 'added';
      });
      if (builder.entries) this.window.push(builder.close(builder.entries >= MAX_BATCH));
    }
    return this.window.slice(0, max);
  }

  /** Unacked entries, oldest first, at most `max` (from the first few batches): for tests and inspection. */
  pending(max = Infinity): LogEntry[] {
    const entries = this.batches(PENDING_BATCHES).flatMap((b) => (JSON.parse(b.body.toString('utf8')) as LogBatch).entries);
    return entries.filter((e) => e.seq > this.acked).slice(0, max);
  }

  /** Bytes of unshipped entries this spool holds in memory: its batches' buffers. */
  get heldBytes(): number {
    return this.window.reduce((sum, b) => sum + b.memoryBytes, 0);
  }

  /** True while entries wait to be shipped. */
  get unshipped(): boolean {
    return this.acked < this.nextSeq - 1 && this.batches(1).length > 0;
  }

  /** The task's directory is about to be deleted: its spool no longer counts against the budget. */
  release(): void {
    this.segments.release();
  }

  /** An agent note about the task ("started pid 12"), numbered like app output. */
  note(line: string): void {
    this.write([this.entry('system', line)]);
  }

  /** Reads new complete lines from the raw files; `final` also takes a last unterminated line (the process exited). */
  poll(final = false): number {
    if (!this.secrets) return 0;
    const notice: LogEntry[] = [];
    this.reportDropped(notice);
    if (notice.length) this.write(notice);
    let taken = notice.length;
    RAW.forEach((stream, i) => (taken += this.readRaw(stream, i, final)));
    this.discardSpooled();
    return taken;
  }

  /**
   * Frees the raw bytes whose lines are in the spool (fsynced first, so they are never only in the
   * raw file's freed blocks). One round at a time, at most once per DISCARD_EVERY_MS.
   */
  private discardSpooled(): void {
    const todo = RAW.map((stream, i) => ({ path: this.rawPath(stream), i, to: this.offsets[i]! })).filter((r) => r.to > this.discarded[r.i]!);
    if (!todo.length || this.discarding || Date.now() - this.lastDiscard < DISCARD_EVERY_MS) return;
    this.discarding = true;
    this.lastDiscard = Date.now();
    const spoolPath = this.segments.activePath;
    if (spoolPath && existsSync(spoolPath)) {
      const fd = openSync(spoolPath, 'r');
      try {
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    void Promise.all(todo.map((r) => punchHole(r.path, r.to).then(() => void (this.discarded[r.i] = r.to))))
      .catch(() => undefined) // the task's files are being removed, or a one-off failure: the next round retries
      .finally(() => (this.discarding = false));
  }

  /**
   * Before a new process of the task starts (none writes the raw files now): raw files whose every
   * byte is spooled start over empty, so restarts do not leave ever-growing (if hole-punched) files.
   */
  rotateRaw(): void {
    if (!this.secrets || this.discarding) return; // unread output, or a hole being punched at the old offsets
    let rotated = false;
    RAW.forEach((stream, i) => {
      const size = statSync(this.rawPath(stream), { throwIfNoEntry: false })?.size;
      if (!size || size !== this.offsets[i]) return;
      truncateSync(this.rawPath(stream), 0);
      this.offsets[i] = 0;
      this.discarded[i] = 0;
      rotated = true;
    });
    if (!rotated) return;
    // A checkpoint with the new offsets: a restarted agent must not wait for bytes beyond the new ends.
    const checkpoint = () => ({ s: this.nextSeq - 1, o: [...this.offsets] as [number, number], ...(this.dropped ? { d: this.dropped } : {}) });
    this.segments.append([checkpoint()], this.nextSeq - 1, checkpoint);
  }

  /** The API stored every seq up to `seq`. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = Math.min(seq, this.nextSeq - 1);
    // A batch acked in part stays whole: resent, its stored entries are ignored by the API.
    while (this.window[0] && this.window[0].last <= this.acked) this.window.shift()!.release();
    writeAtomic(join(this.dir, 'acked'), String(this.acked));
    this.segments.dropAcked(this.acked);
    if (this.acked === this.nextSeq - 1) {
      this.segments.rollOver({ s: this.acked, o: [...this.offsets] as [number, number], ...(this.dropped ? { d: this.dropped } : {}) });
    }
  }

  /** Spools up to MAX_READ_BYTES of new lines of one raw file, a slice at a time; returns the entries taken. */
  private readRaw(stream: RawStream, i: number, final: boolean): number {
    const path = this.rawPath(stream);
    if (!existsSync(path)) return 0;
    const fd = openSync(path, 'r');
    let taken = 0;
    try {
      const size = fstatSync(fd).size;
      if (size < this.offsets[i]!) this.offsets[i] = 0; // truncated by someone: start over
      for (let read = 0; read < MAX_READ_BYTES; ) {
        const length = Math.min(size - this.offsets[i]!, SLICE_BYTES);
        if (length <= 0) break;
        const buf = readBuffer.subarray(0, length); // used synchronously, so one buffer serves every spool
        readSync(fd, buf, 0, length, this.offsets[i]!);
        const atEof = this.offsets[i]! + length === size;
        const out: LogEntry[] = [];
        let start = 0;
        while (start < length) {
          let end = buf.indexOf(10, start);
          // No newline yet: wait for more, unless the line is absurdly long or the process is gone.
          if (end === -1 && length - start <= MAX_LINE_CHARS * 4 && !(final && atEof)) break;
          if (end === -1) end = length;
          this.offsets[i]! += Math.min(end + 1, length) - start;
          this.take(stream, buf.toString('utf8', start, end), out);
          start = end + 1;
          if (out.length >= WRITE_ENTRIES) taken += this.writeOut(out);
        }
        if (start === 0) break; // only the start of a line: wait for its end
        taken += this.writeOut(out);
        read += Math.min(start, length);
      }
    } finally {
      closeSync(fd);
    }
    return taken;
  }

  /** Spools `out` (the offsets reached are those after its last line) and empties it; returns how many there were. */
  private writeOut(out: LogEntry[]): number {
    const n = out.length;
    if (n) this.write(out);
    out.length = 0;
    return n;
  }

  private take(stream: LogStream, raw: string, out: LogEntry[]): void {
    const line = (raw.endsWith('\r') ? raw.slice(0, -1) : raw).slice(0, MAX_LINE_CHARS);
    // After a gap, a line is taken only together with the notice of the gap.
    const need = line.length + RECORD_OVERHEAD_BYTES + (this.dropped ? NOTICE_BYTES : 0);
    if (this.segments.full(this.outBytes + need)) {
      this.dropped++;
      this.onDropped(1);
      return;
    }
    this.reportDropped(out);
    out.push(this.entry(stream, line));
    this.outBytes += line.length + RECORD_OVERHEAD_BYTES;
  }

  /** Estimated spool bytes of the entries of the poll in progress. */
  private outBytes = 0;

  /** Once there is room again, the gap is recorded explicitly. */
  private reportDropped(out: LogEntry[]): void {
    if (this.dropped === 0 || this.segments.full(this.outBytes + NOTICE_BYTES)) return;
    const limit = this.segments.budget.limitBytes;
    const size = limit >= 1 << 20 ? `${Math.round(limit / 1048576)} MB` : `${limit} bytes`;
    out.push(this.entry('system', `${this.dropped} lines dropped: the log spool was full (${size} of unshipped logs on this node)`));
    this.outBytes += NOTICE_BYTES;
    this.dropped = 0;
  }

  private entry(stream: LogStream, line: string): LogEntry {
    return { seq: this.nextSeq++, ts: Date.now(), stream, line: this.redact(line) };
  }

  private redact(line: string): string {
    for (const secret of this.secrets ?? []) if (line.includes(secret)) line = line.split(secret).join('[redacted]');
    return line;
  }

  /** Appends the entries (with the offsets reached) before they become shippable. */
  private write(entries: LogEntry[]): void {
    this.outBytes = 0;
    const o = [...this.offsets] as [number, number];
    const records = entries.map((e): SpoolRecord => ({ s: e.seq, t: e.ts, k: e.stream, l: e.line, o }));
    // Offsets consumed by dropped lines must survive a restart too.
    if (this.dropped) records.push({ s: this.nextSeq - 1, o, d: this.dropped });
    const before = entries[0] ? entries[0].seq - 1 : this.nextSeq - 1;
    // Shipped from disk: batches() reads them back when it is their turn (from the page cache).
    this.segments.append(records, this.nextSeq - 1, () => ({ s: before, o: [...this.offsets] as [number, number], ...(this.dropped ? { d: this.dropped } : {}) }));
  }

  private recover(): void {
    if (existsSync(join(this.dir, 'acked'))) this.acked = Number(readFileSync(join(this.dir, 'acked'), 'utf8')) || 0;
    const last = this.segments.recover(this.acked);
    if (!last) return;
    this.offsets = last.o;
    this.nextSeq = last.s + 1;
    this.dropped = last.d ?? 0;
  }
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
