/** Turns a text stream into lines for the log shipper, capping line length at the protocol's limit. */
import type { Readable } from 'node:stream';

export const MAX_LINE_CHARS = 16_384;

/**
 * Calls onLine for each line of the stream (without the newline). A line longer than
 * MAX_LINE_CHARS is cut there and the rest of it, up to the next newline, is dropped.
 */
export function splitLines(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  let dropping = false; // inside an over-long line whose head was already emitted
  stream.setEncoding('utf8'); // decodes multi-byte characters split across chunks
  stream.on('data', (chunk: string) => {
    const parts = chunk.split('\n');
    const last = parts.pop() ?? '';
    for (const part of parts) {
      if (!dropping) onLine(trimCr(partial + part).slice(0, MAX_LINE_CHARS));
      partial = '';
      dropping = false;
    }
    if (dropping) return;
    partial += last;
    if (partial.length > MAX_LINE_CHARS) {
      onLine(partial.slice(0, MAX_LINE_CHARS));
      partial = '';
      dropping = true;
    }
  });
  stream.on('end', () => {
    if (partial && !dropping) onLine(trimCr(partial));
    partial = '';
  });
}

function trimCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
