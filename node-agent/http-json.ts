/** Small JSON-over-HTTP helper for the agent's calls to the control plane. */
import { readText, request, requestErrorMessage } from './http-client.js';

/** A non-2xx answer; `status` lets callers tell "re-register" (401) from "retry later" (5xx). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

export async function postJson<T>(url: string, bearer: string, body: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  return postEncodedJson(url, bearer, JSON.stringify(body), { timeoutMs });
}

/**
 * postJson with the body already encoded as JSON (the log shipper's batches are built as bytes).
 * `bodyDone` is called when the answer came and the whole body had been handed to the OS: from then
 * on nothing reads `json`, and its memory may be reused. Not called otherwise (an error, an answer
 * before the body was all sent): the body may still be in a socket's write queue.
 */
export async function postEncodedJson<T>(url: string, bearer: string, json: string | Uint8Array, opts: { timeoutMs?: number; bodyDone?: () => void } = {}): Promise<T> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, bodyDone } = opts;
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let text: string;
  let bodySent = false;
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: json,
      signal,
      onBodySent: () => (bodySent = true),
    });
    status = res.statusCode ?? 0;
    text = await readText(res);
    if (bodySent) bodyDone?.();
  } catch (err) {
    throw new Error(`POST ${url} failed: ${requestErrorMessage(err, signal)}`);
  }
  if (status < 200 || status > 299) throw new HttpError(status, `POST ${url} answered ${status}: ${errorMessage(text)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`POST ${url} answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** The message of a Zectre error body, or the start of whatever else came back. */
function errorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (parsed.error?.message) return `${parsed.error.code ?? 'error'}: ${parsed.error.message}`;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200) || '(empty body)';
}
