/** The CLI's side of the catalog: discovery, the device grant, refresh and revocation (form-encoded, RFC 6749). */
import { CLI_CLIENT_ID, REFRESH_TOKEN_GRANT, type OAuthErrorBody, type OpenIdConfiguration, type TokenAnswer } from '../protocol/index.js';
import { CliError, ConnectionError } from './errors.js';

const TIMEOUT_MS = 30_000;

export type OAuthAnswer<T> = { ok: true; body: T } | { ok: false; status: number; error: string; description: string };

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message;
    throw new ConnectionError(new URL(url).origin, cause);
  }
}

async function parse<T>(res: Response, what: string): Promise<OAuthAnswer<T>> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`${what} answered ${res.status} with something that is not JSON`);
  }
  if (res.ok) return { ok: true, body: body as T };
  const e = body as Partial<OAuthErrorBody>;
  return { ok: false, status: res.status, error: String(e.error ?? `http_${res.status}`), description: String(e.error_description ?? res.statusText) };
}

/** A form POST to an OAuth endpoint; OAuth errors come back as values (polling expects some). */
export async function oauthPost<T>(url: string, params: Record<string, string>): Promise<OAuthAnswer<T>> {
  const res = await send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  });
  return parse<T>(res, url);
}

/** The catalog's endpoints, from the API's /.well-known/openid-configuration. */
export async function discover(apiUrl: string): Promise<OpenIdConfiguration> {
  const url = `${apiUrl}/.well-known/openid-configuration`;
  const res = await send(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new CliError(`${apiUrl} does not offer a device sign-in (GET ${url} answered ${res.status}); use \`zectre login --token\``);
  const answer = await parse<OpenIdConfiguration>(res, url);
  if (!answer.ok || !answer.body.device_authorization_endpoint || !answer.body.token_endpoint) {
    throw new CliError(`${url} names no device authorization or token endpoint`);
  }
  return answer.body;
}

/** The sign-in ended (revoked, reused elsewhere, expired, user disabled): only a new `zectre login` helps. */
export class SignedOutError extends CliError {
  constructor(apiUrl: string, reason: string) {
    super(`your sign-in to ${apiUrl} has ended (${reason}); run \`zectre login --api ${apiUrl}\` again`, 3, 'signed_out');
  }
}

/** Spends the refresh token for a new pair (the catalog rotates it on every use). */
export async function refreshTokens(apiUrl: string, tokenEndpoint: string, refreshToken: string): Promise<TokenAnswer> {
  const answer = await oauthPost<TokenAnswer>(tokenEndpoint, { grant_type: REFRESH_TOKEN_GRANT, refresh_token: refreshToken, client_id: CLI_CLIENT_ID });
  if (answer.ok) return answer.body;
  if (answer.error === 'invalid_grant') throw new SignedOutError(apiUrl, answer.description);
  throw new CliError(`refreshing the access token failed: ${answer.description} (${answer.error})`);
}

/** RFC 7009: ends the whole sign-in the token belongs to. */
export async function revokeRefreshToken(revocationEndpoint: string, refreshToken: string): Promise<void> {
  const answer = await oauthPost<unknown>(revocationEndpoint, { token: refreshToken, token_type_hint: 'refresh_token', client_id: CLI_CLIENT_ID });
  if (!answer.ok) throw new CliError(`revoking the sign-in failed: ${answer.description} (${answer.error})`);
}
