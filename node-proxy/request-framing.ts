/**
 * How a client's request body is framed, decided from the headers the server library saw, or why the
 * request is refused. A request whose framing or routing headers could be read two ways is refused
 * (and its connection closed by the caller), never forwarded: RFC 9112 6.3 and 3.2. The result is
 * a Content-Length checked here, chunked (decoded by the server library), or no body.
 *
 * The server library keeps the first of repeated headers and hyper-express the last, so each header
 * is passed as both; they differ exactly when the client sent two different values. (A repeat with
 * the same value reads the same to every parser, the app's included: the proxy sends one.)
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
const CONFLICTING_LENGTH = new Refusal(400, 'bad_request', 'the request has conflicting Content-Length headers');
const BAD_LENGTH = new Refusal(400, 'bad_request', 'the request has an invalid Content-Length');
const TWO_HOSTS = new Refusal(400, 'bad_request', 'the request has more than one Host header');
const LENGTH_AND_CODING = new Refusal(400, 'bad_request', 'the request has both Content-Length and Transfer-Encoding');
const BAD_CODING = new Refusal(400, 'bad_request', 'the only transfer coding accepted for a request is chunked');

/** One header as hyper-express (last value, undefined when absent) and uWS (first value, '' when absent) read it. */
export function requestFraming(
  length: string | undefined,
  firstLength: string,
  coding: string | undefined,
  firstCoding: string,
  host: string | undefined,
  firstHost: string,
  maxBodyBytes: number,
): Framing | Refusal {
  if (host !== undefined && host !== firstHost) return TWO_HOSTS;
  if (coding !== undefined) {
    if (length !== undefined) return LENGTH_AND_CODING;
    // The server library decodes any Transfer-Encoding as chunked; accept only what that is right for.
    if (!isChunked(coding) || !isChunked(firstCoding)) return BAD_CODING;
    return 'chunked';
  }
  if (length === undefined) return null;
  if (length !== firstLength) return CONFLICTING_LENGTH;
  if (!DIGITS.test(length)) return BAD_LENGTH;
  const n = Number(length);
  if (n > maxBodyBytes) return new Refusal(413, 'payload_too_large', `the request body exceeds ${maxBodyBytes} bytes`);
  return n;
}

function isChunked(value: string): boolean {
  return value.length >= 7 && value.trim().toLowerCase() === 'chunked';
}
