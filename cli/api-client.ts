import type { ErrorBody } from '../protocol/index.js';
import { configPath, resolveConfig } from './config.js';
import { RefreshingCredentials, type Credentials } from './credentials.js';
import { ApiError, CliError, ConnectionError } from './errors.js';

const REQUEST_TIMEOUT_MS = 30_000;
// Artifacts can be large and uplinks slow.
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Lets a caller (e.g. `logs -f` on Ctrl-C) abandon the request; the abort error is rethrown as is. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Talks to the control plane's /api/v1 with a bearer token: a fixed one (an API token) or a device
 * sign-in's access token, refreshed before it expires and once more if the API says it has.
 */
export class ApiClient {
  readonly apiUrl: string;

  constructor(
    apiUrl: string,
    private readonly auth: string | Credentials,
  ) {
    this.apiUrl = apiUrl.replace(/\/+$/, '');
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }
  put<T>(path: string, body: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = this.auth;
    let token = typeof auth === 'string' ? auth : await auth.accessToken();
    let res = await this.send(method, path, options, token);
    let text = await res.text();
    // A stream body is spent: it cannot be sent again (accessToken() refreshes early, so this is rare).
    if (res.status === 401 && typeof auth !== 'string' && !(options.body instanceof ReadableStream) && errorCode(text) === 'token_expired') {
      token = await auth.renew(token);
      res = await this.send(method, path, options, token);
      text = await res.text();
    }
    if (!res.ok) throw apiError(res, text);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${path} answered ${res.status} with something that is not JSON`);
    }
  }

  private async send(method: string, path: string, options: RequestOptions, token: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...options.headers };
    let body: BodyInit | undefined;
    const streamed = options.body instanceof ReadableStream;
    if (streamed) {
      // A stream lets the caller count bytes as they leave (upload progress).
      body = options.body as ReadableStream<Uint8Array>;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (options.body instanceof Uint8Array) {
      // Our bytes come from Buffer.concat, which never uses a SharedArrayBuffer.
      body = options.body as Uint8Array<ArrayBuffer>;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const timeoutMs = options.timeoutMs ?? (streamed || body instanceof Uint8Array ? UPLOAD_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      // Node's fetch needs duplex 'half' to send a stream body.
      return await fetch(`${this.apiUrl}${path}`, { method, headers, body, signal, ...(streamed ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      if (timeout.aborted) throw new ConnectionError(this.apiUrl, `no answer within ${timeoutMs / 1000} s`);
      throw new ConnectionError(this.apiUrl, networkReason(err));
    }
  }
}

export async function clientFromConfig(): Promise<ApiClient> {
  const config = await resolveConfig();
  if (config.token) return new ApiClient(config.apiUrl, config.token);
  return new ApiClient(config.apiUrl, new RefreshingCredentials(configPath(), { ...config, oauth: config.oauth! }));
}

function errorCode(text: string): string | undefined {
  try {
    return (JSON.parse(text) as Partial<ErrorBody>).error?.code;
  } catch {
    return undefined;
  }
}

function apiError(res: Response, text: string): ApiError {
  try {
    const { error } = JSON.parse(text) as Partial<ErrorBody>;
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return new ApiError(res.status, error.code, error.message);
    }
  } catch {
    // Not our error shape (e.g. a proxy's HTML page): fall through to the status line.
  }
  return new ApiError(res.status, `http_${res.status}`, `the API answered ${res.status} ${res.statusText}`.trim());
}

/** fetch() only says "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND…) is in its cause. */
function networkReason(err: unknown): string {
  let cause: unknown = err instanceof Error && err.cause ? err.cause : err;
  // Connecting to "localhost" tries ::1 and 127.0.0.1 and fails with an AggregateError.
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  if (cause instanceof Error) return cause.message || (cause as NodeJS.ErrnoException).code || 'network error';
  return String(cause);
}
