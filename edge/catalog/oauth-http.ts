import type { IRequest } from 'itty-router';
import type { OAuthErrorBody, OAuthErrorCode } from '../../protocol/index.js';
import type { Deps } from '../deps.js';
import { HttpError, errorResponse, json, readLimited } from '../http.js';

/**
 * What the OAuth endpoints share: RFC 6749 bodies (form-encoded in, `{error, error_description}`
 * out) and `Cache-Control: no-store` on every answer, since most of them carry secrets (§5.1).
 */

export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

export function oauthJson(data: unknown, status = 200): Response {
  return json(data, status, NO_STORE);
}

/** The larger of what a client sends here (a refresh token, a client name) is well under this. */
const FORM_LIMIT = 16 * 1024;

/** The request's form parameters; each at most once (RFC 6749 §3.2), none holding NUL. */
export async function readForm(request: Request): Promise<Map<string, string>> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new OAuthError('invalid_request', 'send the parameters form-encoded, with content-type: application/x-www-form-urlencoded');
  }
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(request, FORM_LIMIT);
  } catch (err) {
    if (err instanceof HttpError) throw new OAuthError('invalid_request', err.message, err.status);
    throw err;
  }
  const params = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(new TextDecoder().decode(bytes))) {
    if (params.has(key)) throw new OAuthError('invalid_request', `parameter ${key.slice(0, 40)} was sent more than once`);
    if (value.includes('\0')) throw new OAuthError('invalid_request', `parameter ${key.slice(0, 40)} must not contain NUL`);
    params.set(key, value);
  }
  return params;
}

/** A parameter that must be present and non-empty. */
export function required(form: Map<string, string>, name: string): string {
  const value = form.get(name);
  if (!value) throw new OAuthError('invalid_request', `the ${name} parameter is required`);
  return value;
}

type Handler = (request: IRequest, deps: Deps) => Promise<Response>;

/** Runs an OAuth endpoint: its errors, and our own HttpErrors, become RFC 6749 error bodies. */
export function oauthEndpoint(handler: Handler): Handler {
  return async (request, deps) => {
    try {
      return await handler(request, deps);
    } catch (err) {
      if (err instanceof OAuthError) return oauthJson({ error: err.code, error_description: err.message } satisfies OAuthErrorBody, err.status);
      // Database down or busy, a missing issuer: keep their status, in the RFC's shape.
      const plain = errorResponse(err);
      const body = (await plain.json()) as { error?: { code?: string; message?: string } };
      const headers = new Headers(plain.headers);
      for (const [k, v] of Object.entries(NO_STORE)) headers.set(k, v);
      const error = plain.status === 400 ? 'invalid_request' : (body.error?.code ?? 'server_error');
      return new Response(JSON.stringify({ error, error_description: body.error?.message ?? 'internal error' }), { status: plain.status, headers });
    }
  };
}
