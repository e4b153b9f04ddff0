/**
 * The catalog's OAuth 2.0 wire contract (RFC 8628 device grant, RFC 6749 refresh, RFC 7009
 * revocation) and the dashboard's device approval API. No zod here: the CLI imports these
 * constants on every command and keeps zod out of its startup (dev/build-cli.ts).
 */

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
/** The public client the `zectre` CLI signs in as (no secret: a CLI cannot keep one). */
export const CLI_CLIENT_ID = 'zectre-cli';
/** Clients the catalog knows; an unknown client_id is `invalid_client`. */
export const OAUTH_CLIENTS: readonly string[] = [CLI_CLIENT_ID];

/** RFC 8628 §6.1: consonants only (no vowels, so no words), upper case, 8 of them as XXXX-XXXX. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

/** A random user code, XXXX-XXXX (rejection sampling keeps every letter equally likely). */
export function generateUserCode(): string {
  let out = '';
  while (out.length < USER_CODE_LENGTH) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 240 && out.length < USER_CODE_LENGTH) out += USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length];
    }
  }
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

/** What a person typed, as stored (XXXX-XXXX): case, spaces and dashes do not matter; null if it cannot be a code. */
export function normalizeUserCode(input: string): string | null {
  const bare = input.toUpperCase().replace(/[\s-]/g, '');
  if (bare.length !== USER_CODE_LENGTH || [...bare].some((c) => !USER_CODE_ALPHABET.includes(c))) return null;
  return `${bare.slice(0, 4)}-${bare.slice(4)}`;
}

/** 256 random bits, base64url, with a kind prefix (zd_ device code, zr_ refresh token), as protocol/tokens.ts. */
export function generateOAuthSecret(kind: 'zd' | 'zr'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `${kind}_${btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

/** GET /.well-known/openid-configuration (RFC 8414 fields). */
export interface OpenIdConfiguration {
  issuer: string;
  jwks_uri: string;
  device_authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  grant_types_supported: string[];
  response_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  /** The algorithm of every access token (RFC 9068 profile); not an RFC 8414 field. */
  access_token_signing_alg_values_supported: string[];
}

/** POST /oauth/device_authorization answer (RFC 8628 §3.2). */
export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** POST /oauth/token success (RFC 6749 §5.1). */
export interface TokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

/** RFC 6749 §5.2 error codes, plus RFC 8628 §3.5's for the device grant. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'access_denied';

export interface OAuthErrorBody {
  error: OAuthErrorCode;
  error_description: string;
}

/** The `roles` claim of an access token: informational; the API still checks members on each request. */
export interface AccessTokenRoles {
  admin: boolean;
  projects: Record<string, 'viewer' | 'developer' | 'owner'>;
}

export type DeviceRequestStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** GET /api/v1/device?user_code=XXXX-XXXX: what the dashboard shows before the person approves. */
export interface DeviceRequestView {
  userCode: string;
  /** What the device says it is (client_name, e.g. "zectre CLI on build-01"): claimed, not proven. */
  clientName: string | null;
  requestedAt: string;
  expiresAt: string;
  status: DeviceRequestStatus;
}

/** POST /api/v1/device/approve and /deny body. */
export interface DeviceDecisionBody {
  userCode: string;
}

/** POST /api/v1/admin/catalog-keys/rotate answer: the kids now signing and published next. */
export interface RotatedKeys {
  current: string;
  next: string;
}
