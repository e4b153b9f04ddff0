/**
 * An incremental HTTP/1.1 response parser for the proxy's upstream connections (RFC 9112): status
 * line and headers, then a body framed by Content-Length, chunked coding, or the connection's end.
 * Written for the common case of a small response arriving in one read: one indexOf for the end of
 * the head, one latin1 slice, one split. Strict where leniency enables response splitting or
 * smuggling: bare CR/LF or NUL in the head, obs-folded lines, whitespace before a colon, and
 * conflicting Content-Length values are errors.
 */

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** Left in a line after splitting on CRLF: a lone CR or LF, or a NUL. */
const BAD_CHAR = /[\r\n\0]/;
const DIGITS = /^\d{1,15}$/;

export class ResponseParseError extends Error {
  readonly code = 'UPSTREAM_BAD_RESPONSE';
}

export interface ResponseHead {
  status: number;
  /** Lower-case names and values, flat: [name, value, name, value, …], in the order received. */
  headers: string[];
  /** The declared Content-Length (also for HEAD and 304 answers, which carry no body). */
  length: number | undefined;
  /** Whether the connection can carry another request after this response. */
  keepAlive: boolean;
}

export interface ResponseEvents {
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

const enum State {
  Head,
  Fixed,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

export class ResponseParser {
  private state = State.Done;
  private noBody = false;
  private pending: Buffer | null = null;
  private remaining = 0;
  private keepAlive = true;

  constructor(
    private readonly events: ResponseEvents,
    private readonly maxHeadBytes = 64 * 1024,
  ) {}

  /** Prepares for the response to a new request; HEAD answers never carry a body. */
  expect(method: string): void {
    this.state = State.Head;
    this.noBody = method === 'HEAD';
    this.pending = null;
    this.keepAlive = true;
  }

  /** True once the whole response has been delivered. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** True when the body runs until the connection closes: the close is the end, not an error. */
  get endsAtClose(): boolean {
    return this.state === State.UntilClose;
  }

  /** The connection closed: completes a close-delimited body. */
  finish(): void {
    if (this.state === State.UntilClose) this.complete();
  }

  /**
   * Feeds bytes read from the connection. Returns how many bytes were left over after the end of
   * the response (which the caller must treat as a protocol error: no request asked for them).
   */
  feed(chunk: Buffer): number {
    if (this.pending) {
      chunk = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let at = 0;
    while (at < chunk.length) {
      // Done: whatever follows the response was not asked for.
      if (this.state === State.Done) return chunk.length - at;
      switch (this.state) {
        case State.Head:
          at = this.head(chunk, at);
          if (at < 0) return 0;
          break;
        case State.Fixed:
          at = this.counted(chunk, at);
          if (this.remaining === 0) this.complete();
          break;
        case State.UntilClose:
          this.events.onBody(at === 0 ? chunk : chunk.subarray(at));
          return 0;
        case State.ChunkSize:
        case State.ChunkDataEnd:
        case State.Trailers:
          at = this.line(chunk, at);
          if (at < 0) return 0;
          break;
        case State.ChunkData:
          at = this.counted(chunk, at);
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
      }
    }
    return 0;
  }

  /** Delivers up to `remaining` body bytes from `at` (the whole chunk without a copy when it fits); returns where it stopped. */
  private counted(chunk: Buffer, at: number): number {
    const n = Math.min(this.remaining, chunk.length - at);
    this.events.onBody(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
    this.remaining -= n;
    return at + n;
  }

  /** Parses a head starting at `at`; returns where the body starts, or -1 when more bytes are needed. */
  private head(chunk: Buffer, at: number): number {
    const end = chunk.indexOf(CRLF2, at);
    if (end < 0) {
      if (chunk.length - at > this.maxHeadBytes) throw new ResponseParseError(`response head exceeds ${this.maxHeadBytes} bytes`);
      this.pending = chunk.subarray(at);
      return -1;
    }
    if (end + 4 - at > this.maxHeadBytes) throw new ResponseParseError(`response head exceeds ${this.maxHeadBytes} bytes`);
    const text = chunk.toString('latin1', at, end);
    const lines = text.split('\r\n');
    const statusLine = lines[0]!;
    if (!statusLine.startsWith('HTTP/1.') || BAD_CHAR.test(statusLine) || statusLine.charCodeAt(8) !== 32) throw new ResponseParseError(`bad status line: ${statusLine.slice(0, 40)}`);
    const status = Number(statusLine.slice(9, 12));
    if (!(status >= 100 && status <= 999) || (statusLine.length > 12 && statusLine.charCodeAt(12) !== 32)) {
      throw new ResponseParseError(`bad status line: ${statusLine.slice(0, 40)}`);
    }
    let keepAlive = statusLine.charCodeAt(7) === 49; // HTTP/1.1; a 1.0 answer closes
    let length: number | undefined;
    let chunked = false;
    let encoded = false;
    const headers: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const first = line.charCodeAt(0);
      if (colon <= 0 || first === 32 || first === 9 || BAD_CHAR.test(line)) throw new ResponseParseError(`bad header line: ${line.slice(0, 40)}`);
      const last = line.charCodeAt(colon - 1);
      if (last === 32 || last === 9) throw new ResponseParseError(`whitespace before colon in: ${line.slice(0, 40)}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!DIGITS.test(value) || (length !== undefined && length !== Number(value))) throw new ResponseParseError(`bad content-length: ${value.slice(0, 20)}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        encoded = true;
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      } else if (name === 'connection') {
        const v = value.toLowerCase();
        if (v.includes('close')) keepAlive = false;
        else if (v.includes('keep-alive')) keepAlive = keepAlive || statusLine.charCodeAt(7) === 48;
      }
      headers.push(name, value);
    }
    const bodyAt = end + 4;
    if (status < 200) {
      // Interim answers (100 Continue, 103 Early Hints) are not relayed; the real answer follows.
      if (status === 101) throw new ResponseParseError('the app switched protocols on a plain request');
      return bodyAt;
    }
    // A message with both is a smuggling attempt or a broken app: honour the transfer coding, ignore
    // the length (it must not reach the client either), then close (RFC 9112 6.3).
    if (encoded && length !== undefined) {
      keepAlive = false;
      length = undefined;
    }
    this.keepAlive = keepAlive;
    this.events.onHead({ status, headers, length, keepAlive });
    if (this.noBody || status === 204 || status === 304) this.complete();
    else if (chunked) this.state = State.ChunkSize;
    else if (encoded || length === undefined) {
      this.keepAlive = false;
      this.state = State.UntilClose;
    } else if (length === 0) this.complete();
    else {
      this.remaining = length;
      this.state = State.Fixed;
    }
    return bodyAt;
  }

  /** A CRLF-ended line of the chunked coding; returns where the next state starts, or -1. */
  private line(chunk: Buffer, at: number): number {
    const end = chunk.indexOf(CRLF, at);
    if (end < 0) {
      if (chunk.length - at > 4096) throw new ResponseParseError('chunk size line too long');
      this.pending = chunk.subarray(at);
      return -1;
    }
    if (this.state === State.ChunkDataEnd) {
      if (end !== at) throw new ResponseParseError('chunk data longer than its size');
      this.state = State.ChunkSize;
    } else if (this.state === State.ChunkSize) {
      const text = chunk.toString('latin1', at, end);
      const hex = text.split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new ResponseParseError(`bad chunk size: ${text.slice(0, 20)}`);
      this.remaining = parseInt(hex, 16);
      this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
    } else if (end === at) {
      this.complete(); // the empty line after the (ignored) trailers
    }
    return end + 2;
  }

  private complete(): void {
    this.state = State.Done;
    this.events.onEnd();
  }

  /** After the response: may the connection be reused? */
  get reusable(): boolean {
    return this.keepAlive;
  }
}
