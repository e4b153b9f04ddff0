/**
 * Workload identity (docs/identity.md): every task gets a JWT from the catalog naming its project,
 * deployment and task, which anyone can verify through the control plane's JWKS. The agent asks for
 * the tokens of its tasks in batches and renews them at about half their lifetime.
 */
import { z } from 'zod';
import { line } from './fields.js';

/** The JWT `typ` of identity tokens: never `at+jwt`, so the API refuses one as a bearer (RFC 8725 §3.11). */
export const IDENTITY_TOKEN_TYPE = 'zectre-id+jwt';
/** The first token, in the task's environment (only the one it started with: apps re-read the file). */
export const IDENTITY_TOKEN_ENV = 'ZECTRE_IDENTITY_TOKEN';
/** The file in the task's own directory the agent rewrites (atomically) with every renewed token. */
export const IDENTITY_TOKEN_FILE_ENV = 'ZECTRE_IDENTITY_TOKEN_FILE';
/** A project env var: the token's `aud` (comma-separated for several); default `<issuer>/workload`. */
export const IDENTITY_AUDIENCE_ENV = 'ZECTRE_IDENTITY_AUDIENCE';
/** Name of the token file inside the task's directory. */
export const IDENTITY_TOKEN_FILE = '.zectre-identity-token';
/** Task ids per request, at most: an agent with more tasks sends several requests. */
export const MAX_IDENTITY_BATCH = 200;

/** POST /scheduler/v1/nodes/:id/identity-tokens (Authorization: Bearer <node credential>). */
export const IdentityTokensRequest = z.object({
  taskIds: z.array(line(64)).min(1).max(MAX_IDENTITY_BATCH),
});
export type IdentityTokensRequest = z.infer<typeof IdentityTokensRequest>;

export interface IdentityTokensResponse {
  /** Task id -> JWT, for each requested task this node is meant to run now. */
  tokens: Record<string, string>;
  /** Task id -> why it got none (not a running task of this node, an unusable audience): stop renewing it. */
  refused: Record<string, string>;
  /** Lifetime of the tokens issued. */
  expiresInS: number;
}

/** The claims of an identity token besides iss, sub (`task:<id>`), aud, iat, exp and jti. */
export interface IdentityClaims {
  /** Project slug. */
  project: string;
  project_id: string;
  deployment: string;
  task: string;
  node: string;
}
