/** Small JSON-over-HTTP helper for the agent's calls to the control plane. */

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
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`POST ${url} failed: ${fetchErrorMessage(err)}`);
  }
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, `POST ${url} answered ${res.status}: ${errorMessage(text)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`POST ${url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
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

/** fetch() says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND, a timeout) is what helps. */
export function fetchErrorMessage(err: unknown): string {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  const cause = error.cause?.code ?? error.cause?.message;
  return cause ? `${error.message} (${cause})` : error.message;
}
