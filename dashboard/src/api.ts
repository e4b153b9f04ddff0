/** The dashboard's only way to the control plane: the public /api/v1, authenticated by the session cookie. */
import { CSRF_HEADER } from '../../protocol/session-cookie.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const signedOutListeners = new Set<() => void>();
/** Called whenever the API says the session is gone, so the app can show the sign-in page. */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export async function api<T>(path: string, opts: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers[CSRF_HEADER] = '1';
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, 'network_error', `cannot reach the control plane (${(err as Error).message}); retrying`);
  }
  const data = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  if (!res.ok) {
    if (res.status === 401 && path !== '/sessions') for (const l of signedOutListeners) l();
    throw new ApiError(res.status, data?.error?.code ?? 'http_error', data?.error?.message ?? `the control plane answered ${res.status}`);
  }
  return data as T;
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
