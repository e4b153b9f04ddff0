/**
 * Log batches held as bytes: the JSON body of POST /api/v1/tasks/:id/logs (LogBatch), built once from
 * the spool's records and never changed afterwards, so the same body may be sent again (a retry)
 * while nothing else touches it. Holding unshipped lines as a few Buffers (outside V8's heap) instead
 * of an object and a string per line is what keeps a flood from growing the agent's heap: entries
 * held for a round trip outlived young-generation GCs, were promoted (or pretenured) and piled up in
 * the old generation until a full GC, +30-67 MB in a 500,000-line flood. Entries are copied from the
 * records byte for byte (the record's line is already JSON-encoded), so reading back allocates no
 * string per line either.
 */
import type { LogEntry } from '../protocol/index.js';

/** The API's limit of entries per batch (LogBatch). */
export const MAX_BATCH = 1_000;
/**
 * Body bytes per batch at most, unless its one entry is larger (a 16,384-char line escaped as
 * \uXXXX is ~98 KB): 1,000 lines of 16 KB would be a 16 MB body.
 */
export const MAX_BATCH_BYTES = 128 << 10;

/**
 * Batch bodies of POOLED_BYTES or more get a buffer of MAX_BATCH_BYTES from this pool, taken back once
 * nothing holds them: a new Buffer per batch, alive for a round trip, outlived young GCs and waited
 * for a full GC (with --max-semi-space-size=4, a flood's Buffers rose by 18 MB). Smaller bodies (a
 * trickle's) get one of their own, so an idle task's batch does not hold 128 KB.
 */
const POOLED_BYTES = 16 << 10;
const POOL_MAX = 8;
const pool: Buffer[] = [];
let allocated = 0;

/** How many pool buffers were ever allocated (a flood should reuse a few, not take one per batch). */
export function pooledBuffersAllocated(): number {
  return allocated;
}

/**
 * A batch ready to send: entries first..last (seq) as a LogBatch JSON body. Its bytes never change
 * while anyone holds it: the spool's window holds it until acknowledged, each send while in flight
 * (hold/release); only when the last lets go may its buffer serve another batch.
 */
export class LogBatchBody {
  private holders = 1; // the spool's window
  private reusable = true;

  constructor(
    readonly first: number,
    readonly last: number,
    readonly count: number,
    private readonly bytes: Buffer,
    /** A limit (entries or bytes) closed it: more entries may be waiting. */
    readonly full: boolean,
    /** The pool's buffer that `bytes` is the start of. */
    private readonly pooled: Buffer | undefined,
  ) {}

  /** Memory it takes: its pool buffer's, or its body's. */
  get memoryBytes(): number {
    return this.pooled?.length ?? this.bytes.length;
  }

  get body(): Buffer {
    if (this.holders === 0) throw new Error(`log batch ${this.first}-${this.last} used after its release`);
    return this.bytes;
  }

  hold(): void {
    this.holders++;
  }

  /** `reusable` false: the bytes may still be read (a send that failed may have left them queued on a socket), so they go to the GC, never to another batch. */
  release(reusable = true): void {
    this.reusable &&= reusable;
    if (--this.holders > 0 || !this.pooled || !this.reusable) return;
    if (pool.length < POOL_MAX) pool.push(this.pooled);
  }
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const BODY_START = ascii('{"entries":[');
const BODY_END = ascii(']}');
const REC_SEQ = ascii('{"s":');
const REC_TS = ascii(',"t":');
const REC_STREAM = ascii(',"k":"');
const REC_LINE = ascii('","l":"');
const REC_OFFSETS = ascii(',"o":[');
const ENTRY_SEQ = ascii('{"seq":');
const ENTRY_TS = ascii(',"ts":');
const ENTRY_STREAM = ascii(',"stream":"');
const ENTRY_LINE = ascii('","line":');
const STREAMS = ['stdout', 'stderr', 'system'].map(ascii);
/** Bytes of an entry besides its digits, stream name and line. */
const ENTRY_FIXED = ENTRY_SEQ.length + ENTRY_TS.length + ENTRY_STREAM.length + ENTRY_LINE.length + 1;

/**
 * Where a batch is encoded (one serves every spool: a batch is built within one synchronous call),
 * then copied into its own buffer (a pool's, or an exact one) when closed. Grows to the largest batch.
 */
let scratch = Buffer.allocUnsafe(MAX_BATCH_BYTES + (16 << 10));

/** Where the parts of the record being added are (reused: no object per record). */
const rec = { seq: 0, seqFrom: 0, seqTo: 0, tsFrom: 0, tsTo: 0, streamFrom: 0, streamTo: 0, lineFrom: 0, lineTo: 0 };

/**
 * Builds one batch at a time from spool records. Only one builder may be in use at a time (the
 * scratch buffer is shared), and only within one synchronous call.
 */
export class BatchBuilder {
  private bytes = 0;
  private count = 0;
  private first = 0;
  private last = 0;

  constructor() {
    this.reset();
  }

  get entries(): number {
    return this.count;
  }

  /**
   * Adds the entry of one spool record (its JSON, without the newline): 'skipped' when the record
   * is no entry (a checkpoint) or its seq is at most `after`, 'full' when the batch has no room for
   * it (close it, then add the record to the next).
   */
  add(record: Buffer, after: number): 'added' | 'skipped' | 'full' {
    if (!parseRecord(record)) return this.addParsed(JSON.parse(record.toString('utf8')) as { s: number; t?: number; k?: string; l?: string }, after);
    if (rec.seq <= after) return 'skipped';
    const size = ENTRY_FIXED + (rec.seqTo - rec.seqFrom) + (rec.tsTo - rec.tsFrom) + (rec.streamTo - rec.streamFrom) + (rec.lineTo - rec.lineFrom);
    if (!this.room(size)) return 'full';
    this.put(ENTRY_SEQ);
    this.put(record, rec.seqFrom, rec.seqTo);
    this.put(ENTRY_TS);
    this.put(record, rec.tsFrom, rec.tsTo);
    this.put(ENTRY_STREAM);
    this.put(record, rec.streamFrom, rec.streamTo);
    this.put(ENTRY_LINE);
    this.put(record, rec.lineFrom, rec.lineTo);
    scratch[this.bytes++] = 0x7d; // }
    this.added(rec.seq);
    return 'added';
  }

  /** The batch so far, copied into a buffer of its own (held by the caller: see LogBatchBody); the builder starts over. */
  close(full: boolean): LogBatchBody {
    this.put(BODY_END);
    const pooled = this.bytes >= POOLED_BYTES && this.bytes <= MAX_BATCH_BYTES ? (pool.pop() ?? (allocated++, Buffer.allocUnsafeSlow(MAX_BATCH_BYTES))) : undefined;
    const bytes = pooled ? pooled.subarray(0, this.bytes) : Buffer.allocUnsafeSlow(this.bytes);
    scratch.copy(bytes, 0, 0, this.bytes);
    const batch = new LogBatchBody(this.first, this.last, this.count, bytes, full, pooled);
    this.reset();
    return batch;
  }

  /** A record of another shape than this agent writes (see parseRecord): parsed and encoded anew. */
  private addParsed(r: { s: number; t?: number; k?: string; l?: string }, after: number): 'added' | 'skipped' | 'full' {
    if (!r.k || r.s <= after) return 'skipped';
    const json = JSON.stringify({ seq: r.s, ts: r.t ?? 0, stream: r.k, line: r.l ?? '' } satisfies Record<keyof LogEntry, unknown>);
    if (!this.room(Buffer.byteLength(json) + 1)) return 'full';
    this.bytes += scratch.write(json, this.bytes);
    this.added(r.s);
    return 'added';
  }

  /** Whether `size` more bytes of entry (and its comma) fit; then makes room in the scratch buffer and puts the comma. */
  private room(size: number): boolean {
    const need = this.bytes + 1 + size + BODY_END.length;
    if (this.count > 0 && (this.count >= MAX_BATCH || need > MAX_BATCH_BYTES)) return false;
    if (need > scratch.length) scratch = Buffer.concat([scratch.subarray(0, this.bytes)], need * 2);
    if (this.count > 0) scratch[this.bytes++] = 0x2c; // ,
    return true;
  }

  private added(seq: number): void {
    if (this.count++ === 0) this.first = seq;
    this.last = seq;
  }

  private put(src: Buffer, from = 0, to = src.length): void {
    this.bytes += src.copy(scratch, this.bytes, from, to);
  }

  private reset(): void {
    this.bytes = 0;
    this.count = 0;
    this.put(BODY_START);
  }
}

/**
 * Finds the parts of an entry record as this agent writes it (JSON.stringify of {s, t, k, l, o}):
 * {"s":12,"t":1700000000000,"k":"stdout","l":"…","o":[120,0]}. The line's JSON ends where the last
 * ,"o":[ starts: inside a JSON string every " is escaped, so that text cannot occur within it.
 * False for anything else (a checkpoint, another shape): the caller parses it as JSON.
 */
function parseRecord(b: Buffer): boolean {
  let i = expect(b, 0, REC_SEQ);
  rec.seqFrom = i;
  i = digits(b, i);
  if (i < 0) return false;
  rec.seqTo = i;
  rec.seq = 0;
  for (let j = rec.seqFrom; j < rec.seqTo; j++) rec.seq = rec.seq * 10 + b[j]! - 0x30;
  i = expect(b, i, REC_TS);
  rec.tsFrom = i;
  i = digits(b, i);
  if (i < 0) return false;
  rec.tsTo = i;
  i = expect(b, i, REC_STREAM);
  if (i < 0) return false;
  rec.streamFrom = i;
  rec.streamTo = -1;
  for (const name of STREAMS) if (expect(b, i, name) !== -1) rec.streamTo = i + name.length;
  if (rec.streamTo < 0) return false;
  i = expect(b, rec.streamTo, REC_LINE);
  if (i < 0) return false;
  rec.lineFrom = i - 1; // the line's opening quote
  rec.lineTo = b.lastIndexOf(REC_OFFSETS);
  return rec.lineTo > rec.lineFrom && b[rec.lineTo - 1] === 0x22 && b[b.length - 1] === 0x7d;
}

/** The index after `text` when b holds it at `at`, else -1. */
function expect(b: Buffer, at: number, text: Buffer): number {
  return at >= 0 && b.length >= at + text.length && b.compare(text, 0, text.length, at, at + text.length) === 0 ? at + text.length : -1;
}

/** The index after a run of 1-16 decimal digits at `at`, else -1. */
function digits(b: Buffer, at: number): number {
  if (at < 0) return -1;
  let i = at;
  while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  return i > at && i - at <= 16 ? i : -1;
}
