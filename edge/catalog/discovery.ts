import type { IRequest } from 'itty-router';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT, type OpenIdConfiguration } from '../../protocol/index.js';
import type { Deps } from '../deps.js';
import { json } from '../http.js';
import { catalogIssuer } from './keys.js';

/** Every endpoint URL hangs off the issuer: a catalog split into its own Worker moves them all at once. */
export function catalogEndpoints(issuer: string) {
  return {
    jwks: `${issuer}/.well-known/jwks.json`,
    deviceAuthorization: `${issuer}/oauth/device_authorization`,
    token: `${issuer}/oauth/token`,
    revocation: `${issuer}/oauth/revoke`,
    /** The dashboard page where a person enters the user code (contracts-12). */
    verification: `${issuer}/device`,
  };
}

/** GET /.well-known/openid-configuration: what a client needs to find the rest (RFC 8414). */
export async function getOpenIdConfiguration(_request: IRequest, deps: Deps): Promise<Response> {
  const issuer = catalogIssuer(deps.env);
  const urls = catalogEndpoints(issuer);
  const doc: OpenIdConfiguration = {
    issuer,
    jwks_uri: urls.jwks,
    device_authorization_endpoint: urls.deviceAuthorization,
    token_endpoint: urls.token,
    revocation_endpoint: urls.revocation,
    grant_types_supported: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
    // No authorization endpoint: sign-in happens in the dashboard with a passkey, devices use the device grant.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    access_token_signing_alg_values_supported: ['ES256'],
  };
  return json(doc, 200, { 'cache-control': 'public, max-age=300' });
}
