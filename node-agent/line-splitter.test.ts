import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { test } from 'node:test';
import { MAX_LINE_CHARS, splitLines } from './line-splitter.js';

async function linesOf(chunks: (string | Buffer)[]): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  splitLines(stream, (line) => lines.push(line));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await once(stream, 'end');
  return lines;
}

test('splits across chunks, strips CR, keeps multi-byte characters whole, flushes the last partial line', { timeout: 5_000 }, async () => {
  const euro = Buffer.from('€');
  const lines = await linesOf(['a\r\nb', 'c\n', euro.subarray(0, 1), Buffer.concat([euro.subarray(1), Buffer.from('\n\ntail')])]);
  assert.deepEqual(lines, ['a', 'bc', '€', '', 'tail']);
});

test('cuts an over-long line at the limit and drops the rest of it', { timeout: 5_000 }, async () => {
  const long = 'x'.repeat(MAX_LINE_CHARS + 10);
  const lines = await linesOf([long.slice(0, 10_000), long.slice(10_000), '\nnext\n', 'y'.repeat(MAX_LINE_CHARS * 2), '\nlast']);
  assert.deepEqual(lines.map((l) => l.length), [MAX_LINE_CHARS, 4, MAX_LINE_CHARS, 4]);
  assert.deepEqual([lines[1], lines[3]], ['next', 'last']);
});
