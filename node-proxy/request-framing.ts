/**
 * How a client's request body is framed, decided from its headers, or why the request is refused.
 * node:http's parser (llhttp, strict mode) already refuses what it cannot frame one way: repeated or
 * malformed Content-Length, Content-Length with Transfer-Encoding, a coding list whose last entry is
 * not chunked, bare LF in chunk lines (server.ts answers those 400). What is left to refuse here is
 * what it accepts and the proxy must not forward (RFC 9112 6.3 and 3.2): a coding other than plain
 * chunked (the proxy decodes only that) and two different Host values (node:http keeps the first,
 * an app behind might read the other). Refused requests are answered and their connection closed.
 */
import type { Framing } from './upstream/request-head.js';

export class Refusal {
  constructor(
    readonly status: 400 | 413,
    readonly code: string,
    readonly message: string,
  ) {}
}

const DIGITS = /^\d{1,16}$/;
const BAD_LENGTH = new Refusal(400, 'bad_request', 'the request has an invalid Content-Length');
const TWO_HOSTS = new Refusal(400, 'bad_request', 'the request has more than one Host header');
const LENGTH_AND_CODING = new Refusal(400, 'bad_request', 'the request has both Content-Length and Transfer-Encoding');
const BAD_CODING = new Refusal(400, 'bad_request', 'the only transfer coding accepted for a request is chunked');

/**
 * `rawHeaders` is node:http's flat [name, value, …] list, read only for a second Host header.
 * (A repeat with the same value reads the same to every parser, the app's included: the proxy sends one.)
 */
export function requestFraming(
  length: string | undefined,
  coding: string | undefined,
  host: string | undefined,
  rawHeaders: string[],
  maxBodyBytes: number,
): Framing | Refusal {
  if (host !== undefined && hasOtherHost(rawHeaders, host)) return TWO_HOSTS;
  if (coding !== undefined) {
    if (length !== undefined) return LENGTH_AND_CODING;
    if (!isChunked(coding)) return BAD_CODING;
    return 'chunked';
  }
  if (length === undefined) return null;
  if (!DIGITS.test(length)) return BAD_LENGTH;
  const n = Number(length);
  if (n > maxBodyBytes) return new Refusal(413, 'payload_too_large', `the request body exceeds ${maxBodyBytes} bytes`);
  return n;
}

function hasOtherHost(raw: string[], host: string): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && raw[i + 1] !== host) return true;
  }
  return false;
}

function isChunked(value: string): boolean {
  return value.length >= 7 && value.trim().toLowerCase() === 'chunked';
}
