import { DatabaseError } from '@neondatabase/serverless';
import type { IRequest } from 'itty-router';
import { ZodError, type ZodType } from 'zod';
import { errorBody } from '../protocol/index.js';
import { isConnectionFailure } from './db.js';

/** An error a client caused or can act on; becomes `{error:{code,message}}` with its status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Extra response headers (Retry-After of a 429). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A timestamp from PostgreSQL as ISO 8601, null for null. */
export const iso = (v: unknown): string | null => (v ? new Date(v as string).toISOString() : null);

export const notFound = (what: string) => new HttpError(404, `${what.split(' ')[0]}_not_found`, `${what} not found`);

export function json(data: unknown, status = 200, headers?: HeadersInit): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** Conflicts that outlived the transaction's retries, and a database out of connections or starting up. */
const BUSY = new Set(['40P01', '40001', '53300', '57P03']);

/** The database cannot be reached: the client may retry once it is back. */
export const databaseUnavailable = () =>
  new HttpError(503, 'database_unavailable', 'the database cannot be reached; retry shortly (agents keep running their tasks meanwhile)');

const RETRY_LATER = new Set(['database_unavailable', 'database_busy']);

export function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) {
    return json(errorBody(err.code, err.message, err.details), err.status, RETRY_LATER.has(err.code) ? { 'retry-after': '1' } : err.headers);
  }
  if (isConnectionFailure(err)) {
    console.error(`database unreachable: ${(err as Error).message}`);
    return errorResponse(databaseUnavailable());
  }
  if (err instanceof ZodError) return json(errorBody('invalid_request', describeZod(err), err.issues), 400);
  if (err instanceof DatabaseError && err.code?.startsWith('22')) {
    // Class 22 (data exception): a request value PostgreSQL cannot take. The schemas should have
    // refused it; the log line says which one slipped through (test/e2e/input-fuzz.test.ts watches for it).
    console.error(`input reached the database unvalidated: ${err.code} ${err.message}`);
    return json(errorBody('invalid_value', `a value in the request is out of range or malformed: ${err.message}`), 400);
  }
  if (err instanceof DatabaseError && BUSY.has(err.code ?? '')) {
    console.error(`database busy: ${err.code} ${err.message}`);
    return json(errorBody('database_busy', 'the database is busy; retry shortly'), 503, { 'retry-after': '1' });
  }
  console.error('unhandled error:', err instanceof Error ? err.message : err);
  return json(errorBody('internal_error', 'internal error; the request may be retried'), 500);
}

function describeZod(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
}

/** Validates the query string (each key's last value) against `schema`; a mismatch is a 400. */
export function readQuery<T>(request: Request, schema: ZodType<T>): T {
  return schema.parse(Object.fromEntries(new URL(request.url).searchParams));
}

/**
 * Router `before` hook. itty-router hands path params over still percent-encoded; here each is
 * decoded once, for every route, so `/nodes/my%20node` finds "my node". A malformed escape (`%zz`)
 * or a NUL is the client's mistake: 400, not a URIError that would surface as a 500.
 */
export function decodePathParams(request: IRequest): void {
  let params: Record<string, string> = {};
  // The router assigns `params` after this hook, once a route matched.
  Object.defineProperty(request, 'params', {
    configurable: true,
    get: () => params,
    set: (raw: Record<string, string>) => {
      params = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, decodeSegment(k, v)]));
    },
  });
}

function decodeSegment(name: string, raw: string): string {
  const refuse = (why: string) => new HttpError(400, 'invalid_path', `path parameter ${name} (${raw.slice(0, 80)}) ${why}`);
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw refuse('is not valid percent-encoded UTF-8');
  }
  if (value.includes('\0')) throw refuse('must not contain NUL (%00)');
  return value;
}

const JSON_LIMIT = 1024 * 1024;

/** Reads a JSON body (at most 1 MiB) and validates it; bad input is a 4xx, never a 500. */
export async function readJson<T>(request: Request, schema: ZodType<T>, limit = JSON_LIMIT): Promise<T> {
  const bytes = await readLimited(request, limit);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpError(400, 'invalid_json', 'request body is not valid JSON');
  }
  return schema.parse(value);
}

/** Reads the whole body, refusing more than `limit` bytes with 413 before buffering it all. */
export async function readLimited(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () => new HttpError(413, 'payload_too_large', `request body exceeds ${limit} bytes`);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw tooLarge();
  if (!request.body) return new Uint8Array();
  // A declared length within the limit frames the body: one native read instead of a loop over
  // chunks, which profiled as the costliest step of a steady heartbeat (it is read twice: Worker, shard).
  if (Number.isFinite(declared)) {
    const whole = new Uint8Array(await request.arrayBuffer());
    if (whole.byteLength > limit) throw tooLarge();
    return whole;
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
