/**
 * A task's log spool on disk. The app writes stdout/stderr straight into two files (so it never
 * gets EPIPE when the agent dies); the agent tails them and appends numbered, redacted entries to
 * spool.jsonl. Each spool record carries the byte offsets of the raw files after its line, so a
 * restarted agent resumes exactly where it stopped: no line read twice, none skipped. Raw bytes
 * already spooled are then freed (raw-discard.ts), so unredacted output does not stay on disk.
 * Everything here is 0600 in 0700 directories of the root-only state.
 */
import { appendFileSync, closeSync, existsSync, fdatasyncSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogEntry, LogStream } from '../protocol/index.js';
import { punchHole } from './raw-discard.js';

type RawStream = 'stdout' | 'stderr';
const RAW: RawStream[] = ['stdout', 'stderr'];
/** Unacked lines kept at most; beyond it lines are dropped and an explicit "N lines dropped" entry is written. */
export const MAX_UNACKED = 100_000;
const MAX_READ_BYTES = 1 << 20;
/** The protocol's line limit; longer lines are cut. */
const MAX_LINE_CHARS = 16_384;
/** A fully acked spool larger than this is rewritten as a single checkpoint record. */
const COMPACT_AT_BYTES = 4 << 20;
const MIN_SECRET_CHARS = 4;
/** Raw bytes are freed at most this often per task: a bound on how long unredacted output stays on disk. */
const DISCARD_EVERY_MS = 1_000;

interface SpoolRecord {
  s: number; // seq of this entry (or last seq, for a checkpoint)
  t?: number;
  k?: LogStream;
  l?: string;
  o: [number, number]; // raw stdout/stderr offsets after this record
  d?: number; // lines dropped and not yet reported
}

export class LogSpool {
  private offsets: [number, number] = [0, 0];
  private nextSeq = 1;
  private acked = 0;
  private dropped = 0;
  private pendingEntries: LogEntry[] = [];
  /** undefined until the task's env values are known (after an agent restart): raw output is not read meanwhile. */
  private secrets: string[] | undefined;
  /** Raw offsets up to which the bytes are freed, and when that was last done. */
  private discarded: [number, number] = [0, 0];
  private discarding = false;
  private lastDiscard = 0;

  private readonly onDropped: (lines: number) => void;
  private readonly maxUnacked: number;

  constructor(
    readonly taskId: string,
    readonly dir: string,
    /** secretValues undefined: not known yet, see setSecrets. */
    opts: { secretValues: string[] | undefined; onDropped?: (lines: number) => void; maxUnacked?: number },
  ) {
    this.onDropped = opts.onDropped ?? (() => undefined);
    this.maxUnacked = opts.maxUnacked ?? MAX_UNACKED;
    if (opts.secretValues) this.setSecrets(opts.secretValues);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
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

  /** Unacked entries, oldest first. */
  pending(max: number): LogEntry[] {
    return this.pendingEntries.slice(0, max);
  }

  /** An agent note about the task ("started pid 12"), numbered like app output. */
  note(line: string): void {
    this.write([this.entry('system', line)]);
  }

  /** Reads new complete lines from the raw files; `final` also takes a last unterminated line (the process exited). */
  poll(final = false): number {
    if (!this.secrets) return 0;
    const entries: LogEntry[] = [];
    this.reportDropped(entries);
    RAW.forEach((stream, i) => this.readRaw(stream, i, final, entries));
    if (entries.length) this.write(entries);
    this.discardSpooled();
    return entries.length;
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
    if (existsSync(this.spoolPath)) {
      const fd = openSync(this.spoolPath, 'r');
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

  /** The API stored every seq up to `seq`. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = Math.min(seq, this.nextSeq - 1);
    this.pendingEntries = this.pendingEntries.filter((e) => e.seq > this.acked);
    writeAtomic(join(this.dir, 'acked'), String(this.acked));
    if (this.pendingEntries.length === 0 && this.dropped === 0) this.compactIfLarge();
  }

  private readRaw(stream: RawStream, i: number, final: boolean, out: LogEntry[]): void {
    const path = this.rawPath(stream);
    if (!existsSync(path)) return;
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < this.offsets[i]!) this.offsets[i] = 0; // truncated by someone: start over
      const length = Math.min(size - this.offsets[i]!, MAX_READ_BYTES);
      if (length <= 0) return;
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, this.offsets[i]!);
      const atEof = this.offsets[i]! + length === size;
      let start = 0;
      while (start < length) {
        let end = buf.indexOf(10, start);
        // No newline yet: wait for more, unless the line is absurdly long or the process is gone.
        if (end === -1 && length - start <= MAX_LINE_CHARS * 4 && !(final && atEof)) break;
        if (end === -1) end = length;
        this.offsets[i]! += Math.min(end + 1, length) - start;
        this.take(stream, buf.toString('utf8', start, end), out);
        start = end + 1;
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(stream: LogStream, raw: string, out: LogEntry[]): void {
    if (this.pendingEntries.length + out.length >= this.maxUnacked) {
      this.dropped++;
      this.onDropped(1);
      return;
    }
    this.reportDropped(out);
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    out.push(this.entry(stream, line.slice(0, MAX_LINE_CHARS)));
  }

  /** Once there is room again, the gap is recorded explicitly. */
  private reportDropped(out: LogEntry[]): void {
    if (this.dropped === 0 || this.pendingEntries.length + out.length >= this.maxUnacked) return;
    out.push(this.entry('system', `${this.dropped} lines dropped: the log spool was full (${this.maxUnacked} unshipped lines)`));
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
    const o = [...this.offsets] as [number, number];
    const records = entries.map((e): SpoolRecord => ({ s: e.seq, t: e.ts, k: e.stream, l: e.line, o }));
    // Offsets consumed by dropped lines must survive a restart too.
    if (this.dropped) records.push({ s: this.nextSeq - 1, o, d: this.dropped });
    appendFileSync(this.spoolPath, records.map((r) => JSON.stringify(r)).join('\n') + '\n', { mode: 0o600 });
    this.pendingEntries.push(...entries);
  }

  private get spoolPath(): string {
    return join(this.dir, 'spool.jsonl');
  }

  private recover(): void {
    if (existsSync(join(this.dir, 'acked'))) this.acked = Number(readFileSync(join(this.dir, 'acked'), 'utf8')) || 0;
    if (!existsSync(this.spoolPath)) return;
    const lines = readFileSync(this.spoolPath, 'utf8').split('\n');
    lines.pop(); // '' after the last newline, or a torn last write
    let good = 0; // bytes of complete, parseable records; the rest is cut off
    for (const line of lines) {
      let record: SpoolRecord;
      try {
        record = JSON.parse(line) as SpoolRecord;
      } catch {
        break;
      }
      good += Buffer.byteLength(line) + 1;
      this.offsets = record.o;
      this.nextSeq = record.s + 1;
      this.dropped = record.d ?? 0;
      if (record.k && record.s > this.acked) {
        this.pendingEntries.push({ seq: record.s, ts: record.t!, stream: record.k, line: record.l! });
      }
    }
    if (good < statSync(this.spoolPath).size) truncateSync(this.spoolPath, good);
  }

  private compactIfLarge(): void {
    if ((statSync(this.spoolPath, { throwIfNoEntry: false })?.size ?? 0) < COMPACT_AT_BYTES) return;
    writeAtomic(this.spoolPath, JSON.stringify({ s: this.nextSeq - 1, o: this.offsets } satisfies SpoolRecord) + '\n');
  }
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
