/**
 * Passwordless sign-in (issue 12, points 3, 4 and 8): WebAuthn ceremonies in two halves (options,
 * then the authenticator's answer), recovery codes and the first-run setup link. The browser's
 * answers (RegistrationResponseJSON, AuthenticationResponseJSON) are checked loosely here for shape
 * and size; @simplewebauthn/server checks them for real.
 */
import { z } from 'zod';
import { line, text } from './fields.js';
import type { Session } from './dashboard.js';
import { generateToken } from './tokens.js';

/** A person's name (users.name): letters, digits, dot, dash, underscore; how the CLI and lists show them. */
export const userName = line(40).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name starts with a letter or digit and has only letters, digits, ".", "_" and "-"');

const secret = line(200);

/** POST /api/v1/webauthn/registration/options: which of the three enrolments this is. */
export const RegistrationStart = z.union([
  /** The first admin, from the setup link (or the SETUP_SECRET). */
  z.object({ setupToken: secret, name: userName.optional() }).strict(),
  /** A new person, from an invite link. */
  z.object({ inviteToken: secret, name: userName }).strict(),
  /** The signed-in user adds another passkey. */
  z.object({ passkeyName: line(60).optional() }).strict(),
], { error: 'send {setupToken, name?}, {inviteToken, name} or, signed in, {passkeyName?}' });
export type RegistrationStart = z.infer<typeof RegistrationStart>;

const b64url = text(16_384).regex(/^[A-Za-z0-9_-]*$/, 'expected base64url');

/** The authenticator's answer as @simplewebauthn/browser hands it over. */
const credentialBase = {
  id: b64url.min(1),
  rawId: b64url.min(1),
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional().default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};

export const RegistrationFinish = z.object({
  challengeId: line(64),
  /** For an invite enrolment: the same token as in the options request. */
  inviteToken: secret.optional(),
  passkeyName: line(60).optional(),
  response: z.object({
    ...credentialBase,
    response: z.object({
      clientDataJSON: b64url,
      attestationObject: b64url,
      transports: z.array(line(20)).max(10).optional(),
    }).loose(),
  }),
});
export type RegistrationFinish = z.infer<typeof RegistrationFinish>;

export const AuthenticationFinish = z.object({
  challengeId: line(64),
  response: z.object({
    ...credentialBase,
    response: z.object({
      clientDataJSON: b64url,
      authenticatorData: b64url,
      signature: b64url,
      userHandle: b64url.optional(),
    }).loose(),
  }),
});
export type AuthenticationFinish = z.infer<typeof AuthenticationFinish>;

/** POST /api/v1/sessions/recover: a recovery code instead of a passkey (the code is used up). */
export const Recover = z.object({ name: userName, code: line(40) });
export type Recover = z.infer<typeof Recover>;

/** Answer of …/options: the challenge row's id to send back with the authenticator's answer. */
export interface CeremonyOptions<T> {
  challengeId: string;
  options: T;
}

/** Answer of a completed registration: a session for the user, and the recovery codes when new. */
export interface Enrolled {
  session: Session;
  passkey: PasskeyView;
  /** Shown once, at the user's first enrolment (or after POST /api/v1/recovery-codes); never again. */
  recoveryCodes?: string[];
  /** Set when the registration came from an invite. */
  invite?: { project: string; role: string; message: string };
}

export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
}

/** The dashboard page a setup link opens; the token travels in the fragment, never to a server log. */
export const setupPath = (token: string) => `/setup#${token}`;

/** A setup link's secret: `zs_` + 256 random bits; only its SHA-256 is stored. */
export function generateSetupToken(): string {
  return `zs_${generateToken('zt').slice(3)}`;
}

/** How long a printed setup link works. */
export const SETUP_TOKEN_SECONDS = 24 * 3600;
