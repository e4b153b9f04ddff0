import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseParseError, ResponseParser, type ResponseHead } from './response-parser.js';

interface Parsed {
  heads: ResponseHead[];
  /** Everything delivered so far (live: reads what later feeds add). */
  readonly body: string;
  readonly ends: number;
  /** Sum of what feed() reported as left over in `pieces`. */
  leftover: number;
  parser: ResponseParser;
}

/** Feeds `pieces` in order to a fresh parser expecting the answer to `method`. */
function parse(pieces: (string | Buffer)[], method = 'GET', maxHeadBytes?: number): Parsed {
  const heads: ResponseHead[] = [];
  const body: Buffer[] = [];
  let ends = 0;
  const parser = new ResponseParser(
    {
      onHead: (h) => heads.push(h),
      // Copied: the parser may hand out views of buffers it keeps.
      onBody: (c) => body.push(Buffer.from(c)),
      onEnd: () => ends++,
    },
    maxHeadBytes,
  );
  parser.expect(method);
  let leftover = 0;
  for (const p of pieces) leftover += parser.feed(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
  return {
    heads,
    get body() {
      return Buffer.concat(body).toString('latin1');
    },
    get ends() {
      return ends;
    },
    leftover,
    parser,
  };
}

/** What a test compares: everything observable about a parse. */
function summary(r: Parsed) {
  return { heads: r.heads, body: r.body, ends: r.ends, leftover: r.leftover, done: r.parser.done, reusable: r.parser.reusable };
}

/** Parses `raw` whole, split in two at every byte boundary, and one byte at a time: all must agree. */
function assertSplitInvariant(raw: string, method = 'GET') {
  const whole = summary(parse([raw], method));
  for (let i = 1; i < raw.length; i++) {
    assert.deepEqual(summary(parse([raw.slice(0, i), raw.slice(i)], method)), whole, `split at byte ${i}`);
  }
  assert.deepEqual(summary(parse([...raw], method)), whole, 'one byte per feed');
  return whole;
}

function assertBad(pieces: (string | Buffer)[], method = 'GET', maxHeadBytes?: number) {
  assert.throws(
    () => parse(pieces, method, maxHeadBytes),
    (err: unknown) => err instanceof ResponseParseError && err.code === 'UPSTREAM_BAD_RESPONSE',
  );
}

const ok = (extra: string, body = '') => `HTTP/1.1 200 OK\r\n${extra}\r\n${body}`;

test('a Content-Length response: head, body and end, the same at every split', () => {
  const raw = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Multi: a\r\nX-Multi: b\r\nContent-Length: 11\r\n\r\nhello world';
  const r = assertSplitInvariant(raw);
  assert.deepEqual(r.heads, [
    {
      status: 200,
      headers: ['content-type', 'text/plain', 'x-multi', 'a', 'x-multi', 'b', 'content-length', '11'],
      length: 11,
      keepAlive: true,
    },
  ]);
  assert.equal(r.body, 'hello world');
  assert.equal(r.ends, 1);
  assert.equal(r.done, true);
  assert.equal(r.reusable, true);
  assert.equal(r.leftover, 0);
});

test('a body that is not there yet: not done until the last byte', () => {
  const r = parse([ok('Content-Length: 5\r\n', 'hel')]);
  assert.equal(r.heads.length, 1);
  assert.equal(r.body, 'hel');
  assert.equal(r.ends, 0);
  assert.equal(r.parser.done, false);
  assert.equal(r.parser.endsAtClose, false);
  r.parser.finish(); // a close before the end of a sized body completes nothing
  assert.equal(r.parser.done, false);
  assert.equal(r.parser.feed(Buffer.from('lo')), 0);
  assert.equal(r.parser.done, true);
});

test('a status line without a reason phrase, and Content-Length: 0', () => {
  const r = parse(['HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n']);
  assert.equal(r.heads[0]!.status, 200);
  assert.equal(r.heads[0]!.length, 0);
  assert.equal(r.ends, 1);
  assert.equal(r.parser.reusable, true);
});

test('a chunked body with chunk extensions and trailers, the same at every split', () => {
  const raw =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;name=value\r\nhello\r\n' +
    '1 ; a=b;c\r\n \r\n' +
    'A\r\n0123456789\r\n' +
    'a\r\nabcdefghij\r\n' +
    '0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n';
  const r = assertSplitInvariant(raw);
  assert.equal(r.heads.length, 1);
  assert.equal(r.heads[0]!.length, undefined);
  assert.equal(r.body, 'hello 0123456789abcdefghij');
  assert.equal(r.ends, 1);
  assert.equal(r.reusable, true);
  assert.equal(r.leftover, 0);
});

test('a chunked body with no trailers and an upper-case Transfer-Encoding value', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n']);
  assert.equal(r.body, 'abc');
  assert.equal(r.ends, 1);
  assert.equal(r.parser.reusable, true);
});

test('a chunked body is not done until the blank line after the last chunk', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n']);
  assert.equal(r.body, 'abc');
  assert.equal(r.ends, 0);
  assert.equal(r.parser.done, false);
  r.parser.feed(Buffer.from('X-T: 1\r\n'));
  assert.equal(r.parser.done, false);
  r.parser.feed(Buffer.from('\r\n'));
  assert.equal(r.parser.done, true);
});

test('HEAD: a Content-Length but no body, done right after the head', () => {
  const r = assertSplitInvariant('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', 'HEAD');
  assert.equal(r.heads[0]!.length, 1234);
  assert.equal(r.body, '');
  assert.equal(r.ends, 1);
  assert.equal(r.done, true);
  assert.equal(r.reusable, true);
});

test('HEAD: a chunked head carries no body either', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'], 'HEAD');
  assert.equal(r.ends, 1);
  assert.equal(r.parser.done, true);
  assert.equal(r.parser.reusable, true);
});

test('HEAD: bytes after the head are left over, not body', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'], 'HEAD');
  assert.equal(r.body, '');
  assert.equal(r.ends, 1);
  assert.equal(r.leftover, 5);
});

test('204 and 304 carry no body, with or without a Content-Length', () => {
  for (const raw of [
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n',
  ]) {
    const r = parse([raw]);
    assert.equal(r.heads.length, 1, raw);
    assert.equal(r.body, '', raw);
    assert.equal(r.ends, 1, raw);
    assert.equal(r.parser.done, true, raw);
    assert.equal(r.parser.reusable, true, raw);
  }
  // ...so what follows is left over (the caller's cue not to reuse the connection).
  assert.equal(parse(['HTTP/1.1 204 No Content\r\n\r\nxyz']).leftover, 3);
});

test('100 Continue and 103 Early Hints are skipped; only the final head is reported', () => {
  const raw =
    'HTTP/1.1 100 Continue\r\n\r\n' +
    'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
    'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
  const r = assertSplitInvariant(raw);
  assert.equal(r.heads.length, 1);
  assert.equal(r.heads[0]!.status, 201);
  assert.deepEqual(r.heads[0]!.headers, ['content-length', '2']);
  assert.equal(r.body, 'ok');
  assert.equal(r.ends, 1);
});

test('an interim head alone: nothing reported, still waiting for the answer', () => {
  const r = parse(['HTTP/1.1 100 Continue\r\n\r\n']);
  assert.equal(r.heads.length, 0);
  assert.equal(r.ends, 0);
  assert.equal(r.parser.done, false);
});

test('no Content-Length and no chunking: the body runs until finish(), and the connection is not reusable', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc', 'def']);
  assert.equal(r.heads[0]!.length, undefined);
  assert.equal(r.body, 'abc' + 'def');
  assert.equal(r.ends, 0);
  assert.equal(r.parser.done, false);
  assert.equal(r.parser.endsAtClose, true);
  r.parser.finish();
  assert.equal(r.ends, 1);
  assert.equal(r.parser.done, true);
  assert.equal(r.parser.reusable, false);
});

test('a close-delimited body split at every byte is the same body', () => {
  const raw = 'HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome body bytes';
  const r = assertSplitInvariant(raw);
  assert.equal(r.body, 'some body bytes');
  assert.equal(r.done, false);
});

test('an unknown transfer coding (not chunked last) is read until close', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz']);
  assert.equal(r.body, 'zzz');
  assert.equal(r.parser.endsAtClose, true);
  r.parser.finish();
  assert.equal(r.parser.done, true);
  assert.equal(r.parser.reusable, false);
});

test('HTTP/1.0 answers are not reusable', () => {
  const r = parse(['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok']);
  assert.equal(r.body, 'ok');
  assert.equal(r.ends, 1);
  assert.equal(r.heads[0]!.keepAlive, false);
  assert.equal(r.parser.reusable, false);
});

test('Connection: close is not reusable, in any case or list position', () => {
  for (const value of ['close', 'Close', 'keep-alive, close', 'Upgrade, CLOSE']) {
    const r = parse([`HTTP/1.1 200 OK\r\nConnection: ${value}\r\nContent-Length: 2\r\n\r\nok`]);
    assert.equal(r.ends, 1, value);
    assert.equal(r.heads[0]!.keepAlive, false, value);
    assert.equal(r.parser.reusable, false, value);
  }
  const kept = parse(['HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok']);
  assert.equal(kept.parser.reusable, true);
});

test('both Transfer-Encoding and Content-Length: chunked is honoured, and the connection is not reused', () => {
  for (const raw of [
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  ]) {
    const r = parse([raw]);
    assert.equal(r.body, 'hello', raw);
    assert.equal(r.ends, 1, raw);
    assert.equal(r.leftover, 0, raw);
    assert.equal(r.heads[0]!.keepAlive, false, raw);
    assert.equal(r.parser.reusable, false, raw);
    // The length must not reach the client: it would frame the decoded body wrongly there.
    assert.equal(r.heads[0]!.length, undefined, raw);
  }
});

test('the same Content-Length twice is accepted', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok']);
  assert.equal(r.body, 'ok');
  assert.equal(r.ends, 1);
});

test('leftover bytes after a complete response are reported by feed()', () => {
  // In the same read as the response.
  assert.equal(parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA']).leftover, 5);
  assert.equal(parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1']).leftover, 8);
  // In a later read.
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
  assert.equal(r.leftover, 0);
  assert.equal(r.parser.feed(Buffer.from('junk!')), 5);
  assert.equal(r.ends, 1);
  assert.equal(r.body, 'ok');
});

test('expect() readies the parser for the next response on the same connection', () => {
  const r = parse(['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none']);
  r.parser.expect('GET');
  assert.equal(r.parser.done, false);
  r.parser.feed(Buffer.from('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n'));
  assert.deepEqual(
    r.heads.map((h) => h.status),
    [200, 404],
  );
  assert.equal(r.body, 'onetwo');
  assert.equal(r.ends, 2);
  r.parser.expect('HEAD');
  r.parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'));
  assert.equal(r.ends, 3);
  assert.equal(r.body, 'onetwo');
});

// ---- Errors ----

test('error: a bare LF inside a header line', () => {
  assertBad([ok('X-A: a\nb\r\nContent-Length: 0\r\n')]);
  assertBad([ok('X-A: a\nContent-Length: 0\r\n')]);
  // LF-only line endings throughout.
  assertBad(['HTTP/1.1 200 OK\nContent-Length: 0\n\r\n\r\n']);
});

test('error: a bare CR inside a header line', () => {
  assertBad([ok('X-A: a\rb\r\nContent-Length: 0\r\n')]);
});

test('error: NUL in a header line or the status line', () => {
  assertBad([ok('X-A: a\0b\r\nContent-Length: 0\r\n')]);
  assertBad(['HTTP/1.1 200 O\0K\r\nContent-Length: 0\r\n\r\n']);
});

test('error: an obs-folded header line', () => {
  assertBad([ok('X-A: a\r\n  continued\r\nContent-Length: 0\r\n')]);
  assertBad([ok('X-A: a\r\n\tcontinued\r\nContent-Length: 0\r\n')]);
  // A first header line starting with whitespace.
  assertBad([ok(' X-A: a\r\nContent-Length: 0\r\n')]);
});

test('error: whitespace between a header name and its colon', () => {
  assertBad([ok('Content-Length : 2\r\n', 'ok')]);
  assertBad([ok('X-A\t: a\r\nContent-Length: 0\r\n')]);
});

test('error: a header line without a name or a colon', () => {
  assertBad([ok(': a\r\nContent-Length: 0\r\n')]);
  assertBad([ok('NoColonHere\r\nContent-Length: 0\r\n')]);
});

test('error: conflicting Content-Length values', () => {
  assertBad([ok('Content-Length: 2\r\nContent-Length: 3\r\n', 'ok')]);
});

test('error: a Content-Length that is not a plain number', () => {
  for (const v of ['abc', '5a', '-1', '+5', '0x10', '1.5', '', '1 2', '9999999999999999']) {
    assertBad([ok(`Content-Length: ${v}\r\n`, 'ok')]);
  }
});

test('error: a bad status line', () => {
  for (const line of ['HTTP/2 200 OK', 'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 abc OK', 'HTTP/1.1  200 OK', 'ICY 200 OK', 'HTTP/1.1 099 Low']) {
    assertBad([`${line}\r\nContent-Length: 0\r\n\r\n`]);
  }
});

test('error: a bad chunk size', () => {
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (const size of ['zz', '-1', '0x5', '', '5 5', '1234567890abc']) {
    assertBad([`${head}${size}\r\nhello\r\n0\r\n\r\n`]);
  }
  // Split across feeds too.
  assertBad([head, 'g', '\r\n']);
});

test('error: chunk data longer than its size', () => {
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  assertBad([`${head}3\r\nabcdef\r\n0\r\n\r\n`]);
  // The excess in a later read than the chunk.
  assertBad([`${head}3\r\nabc`, 'def\r\n0\r\n\r\n']);
});

test('error: a head over the maximum size, arriving in pieces without its end', () => {
  const big = 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(2000);
  assertBad([big.slice(0, 900), big.slice(900)], 'GET', 1024);
});

test('error: a head over the maximum size, arriving whole in one read', () => {
  // The limit must not depend on how the bytes were cut into reads.
  const raw = 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(2000) + '\r\nContent-Length: 0\r\n\r\n';
  assertBad([raw], 'GET', 1024);
});

test('error: a head over the maximum size whose end arrives in the read that crosses the limit', () => {
  const raw = 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(2000) + '\r\nContent-Length: 0\r\n\r\n';
  assertBad([raw.slice(0, 900), raw.slice(900)], 'GET', 1024);
});

test('a head under the maximum size is fine', () => {
  const raw = 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(500) + '\r\nContent-Length: 2\r\n\r\nok';
  const r = parse([raw.slice(0, 300), raw.slice(300)], 'GET', 1024);
  assert.equal(r.body, 'ok');
  assert.equal(r.ends, 1);
});

test('error: 101 Switching Protocols on a plain request', () => {
  assertBad(['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n']);
});
