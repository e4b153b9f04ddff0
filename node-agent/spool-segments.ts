/**
 * The files of a task's log spool: numbered JSON-lines records in segments spool-<first seq>.jsonl
 * (a spool.jsonl of an older agent counts as the first). Appends go to the last segment; past
 * SEGMENT_BYTES a new one starts with a checkpoint record (last seq, raw offsets, dropped count), so
 * the newest segment alone tells a restarted agent where it stands. Segments whose every entry is
 * acknowledged are deleted. Unshipped entries are read back from disk through a cursor, a bounded
 * window at a time, so the agent's memory does not grow with a backlog. Bytes on disk count against
 * a budget shared by every spool of the agent.
 */
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync, readSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { LogStream } from '../protocol/index.js';

export interface SpoolRecord {
  s: number; // seq of this entry (or last seq, for a checkpoint)
  t?: number;
  k?: LogStream;
  l?: string;
  o: [number, number]; // raw stdout/stderr offsets after this record
  d?: number; // lines dropped and not yet reported
}

/** Bytes on disk of every spool of one agent, and the most they may hold. */
export interface SpoolBudget {
  limitBytes: number;
  usedBytes: number;
}

const SEGMENT_BYTES = 8 << 20;
/** Records read back at a time: more than the largest record (a 16,384-char line, every char escaped as \uXXXX). */
const READ_BACK_BYTES = 128 << 10;
const readBuffer = Buffer.allocUnsafe(READ_BACK_BYTES);
/** Where appended records are encoded (used synchronously, so one serves every spool); grows to the largest append. */
let writeBuffer = Buffer.allocUnsafe(512 << 10);

interface Segment {
  name: string;
  /** First entry seq it may hold; entries up to the next segment's first - 1. */
  first: number;
  bytes: number;
}

export class SpoolSegments {
  private segments: Segment[] = [];
  /** Where reading back continues. */
  private cursor = { segment: 0, offset: 0 };

  constructor(
    private readonly dir: string,
    readonly budget: SpoolBudget,
  ) {}

  /** Finds the segments, cuts a torn last record, and returns the newest record (where the spool stands). */
  recover(acked: number): SpoolRecord | undefined {
    const named = readdirSync(this.dir)
      .map((name) => ({ name, m: /^spool(?:-(\d+))?\.jsonl$/.exec(name) }))
      .filter((f) => f.m)
      .map(({ name, m }) => ({ name, first: m![1] ? Number(m![1]) : 0, bytes: statSync(join(this.dir, name)).size }))
      .sort((a, b) => a.first - b.first);
    this.segments = named;
    let last: SpoolRecord | undefined;
    const active = this.segments.at(-1);
    if (active) {
      const lines = readFileSync(this.path(active), 'utf8').split('\n');
      lines.pop(); // '' after the last newline, or a torn last write
      let good = 0; // bytes of complete, parseable records; the rest is cut off
      for (const line of lines) {
        try {
          last = JSON.parse(line) as SpoolRecord;
        } catch {
          break;
        }
        good += Buffer.byteLength(line) + 1;
      }
      if (good < active.bytes) truncateSync(this.path(active), good);
      active.bytes = good;
    }
    for (const s of this.segments) this.budget.usedBytes += s.bytes;
    this.dropAcked(acked);
    return last;
  }

  /** True when `bytes` more would exceed the budget. */
  full(bytes: number): boolean {
    return this.budget.usedBytes + bytes > this.budget.limitBytes;
  }

  /** Appends records (their last seq is `lastSeq`); starts a new segment first when the current one is large. */
  append(records: SpoolRecord[], lastSeq: number, checkpoint: () => SpoolRecord): void {
    let active = this.segments.at(-1);
    if (!active || active.bytes >= SEGMENT_BYTES) {
      const first = records.find((r) => r.k)?.s ?? lastSeq + 1;
      active = { name: `spool-${first}.jsonl`, first, bytes: 0 };
      this.segments.push(active);
      if (this.segments.length > 1) records = [checkpoint(), ...records];
    }
    // Encoded a record at a time into one buffer: joining a slice's records would make a string of
    // hundreds of KB, a large object that V8 frees only by a full GC (a flood grew the heap by tens of MB).
    let bytes = 0;
    for (const r of records) {
      const json = JSON.stringify(r);
      if (writeBuffer.length < bytes + json.length * 3 + 1) writeBuffer = Buffer.concat([writeBuffer.subarray(0, bytes)], 2 * (bytes + json.length * 3 + 1));
      bytes += writeBuffer.write(json, bytes);
      writeBuffer[bytes++] = 10;
    }
    appendFileSync(this.path(active), writeBuffer.subarray(0, bytes), { mode: 0o600 });
    active.bytes += bytes;
    this.budget.usedBytes += bytes;
  }

  /** The path of the segment appended to (fsynced before raw bytes are freed). */
  get activePath(): string | undefined {
    const active = this.segments.at(-1);
    return active && this.path(active);
  }

  /**
   * Hands the records after the cursor to `visit`, oldest first, each as its JSON bytes (valid only
   * during the call), until `visit` returns false (that record is not consumed: the next call starts
   * with it) or the newest record written is passed.
   */
  readBack(visit: (record: Buffer) => boolean): void {
    for (;;) {
      const segment = this.segments[this.cursor.segment];
      if (!segment) return;
      if (this.cursor.offset >= segment.bytes) {
        if (this.cursor.segment === this.segments.length - 1) return;
        this.cursor = { segment: this.cursor.segment + 1, offset: 0 };
        continue;
      }
      const length = Math.min(READ_BACK_BYTES, segment.bytes - this.cursor.offset);
      const buf = readBuffer.subarray(0, length); // used synchronously: one buffer serves every spool
      const fd = openSync(this.path(segment), 'r');
      try {
        readSync(fd, buf, 0, length, this.cursor.offset);
      } finally {
        closeSync(fd);
      }
      const end = buf.lastIndexOf(10) + 1; // whole records only (a record is far smaller than a read)
      if (end === 0) throw new Error(`spool segment ${this.path(segment)} holds a record over ${READ_BACK_BYTES} bytes`);
      // A record at a time, as bytes: no string of the whole read (a large object freed only by a full GC), nor of each record.
      for (let start = 0, nl = buf.indexOf(10); nl !== -1 && nl < end; start = nl + 1, nl = buf.indexOf(10, start)) {
        if (nl > start && !visit(buf.subarray(start, nl))) return;
        this.cursor.offset += nl + 1 - start;
      }
    }
  }

  /** Deletes segments (never the newest) whose every entry is acknowledged. */
  dropAcked(acked: number): void {
    while (this.segments.length > 1 && this.segments[1]!.first - 1 <= acked) {
      const [gone] = this.segments.splice(0, 1);
      unlinkSync(this.path(gone!));
      this.budget.usedBytes -= gone!.bytes;
      this.cursor = this.cursor.segment > 0 ? { segment: this.cursor.segment - 1, offset: this.cursor.offset } : { segment: 0, offset: 0 };
    }
  }

  /**
   * Every entry is acknowledged: once the newest segment is larger than a quarter of the budget (at
   * most 1 MB), a new one starts from `checkpoint` and the old one goes, so a spool that keeps up
   * holds next to nothing on disk.
   */
  rollOver(checkpoint: SpoolRecord): void {
    const active = this.segments.at(-1);
    if (!active || active.bytes < Math.min(1 << 20, this.budget.limitBytes / 4)) return;
    const name = `spool-${checkpoint.s + 1}.jsonl`;
    if (name === active.name) return; // nothing was written since the last roll-over
    this.segments.push({ name, first: checkpoint.s + 1, bytes: 0 });
    this.append([checkpoint], checkpoint.s, () => checkpoint);
    this.cursor = { segment: this.segments.length - 1, offset: this.segments.at(-1)!.bytes }; // nothing after it to read back
    this.dropAcked(checkpoint.s);
  }

  /** The spool is being deleted with its task: its bytes no longer count. */
  release(): void {
    for (const s of this.segments) this.budget.usedBytes -= s.bytes;
    this.segments = [];
  }

  private path(segment: Segment): string {
    return join(this.dir, segment.name);
  }
}
