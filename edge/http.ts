import { ZodError, type ZodType } from 'zod';
import { errorBody } from '../protocol/index.js';

/** An error a client caused or can act on; becomes `{error:{code,message}}` with its status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, `${what.split(' ')[0]}_not_found`, `${what} not found`);

export function json(data: unknown, status = 200, headers?: HeadersInit): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) return json(errorBody(err.code, err.message, err.details), err.status);
  if (err instanceof ZodError) return json(errorBody('invalid_request', describeZod(err), err.issues), 400);
  console.error('unhandled error:', err instanceof Error ? err.message : err);
  return json(errorBody('internal_error', 'internal error; the request may be retried'), 500);
}

function describeZod(err: ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
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
