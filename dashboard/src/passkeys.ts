/** The two halves of each WebAuthn ceremony: options from the control plane, the authenticator, the answer back. */
import { startAuthentication, startRegistration, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import type { Session } from '../../protocol/dashboard.js';
import type { CeremonyOptions, Enrolled } from '../../protocol/passkeys.js';
import { api, errorText } from './api.js';

/** What starts an enrolment: a setup token, an invite token with a new name, or nothing (signed in: another passkey). */
export type EnrolStart = { setupToken: string; name?: string } | { inviteToken: string; name: string } | { passkeyName?: string };

export async function enrolPasskey(start: EnrolStart): Promise<Enrolled> {
  const { challengeId, options } = await api<CeremonyOptions<PublicKeyCredentialCreationOptionsJSON>>('/webauthn/registration/options', {
    method: 'POST',
    body: start,
  });
  const response = await startRegistration({ optionsJSON: options });
  const inviteToken = 'inviteToken' in start ? start.inviteToken : undefined;
  return api<Enrolled>('/webauthn/registration', { method: 'POST', body: { challengeId, response, inviteToken } });
}

export async function signInWithPasskey(): Promise<Session> {
  const { challengeId, options } = await api<CeremonyOptions<PublicKeyCredentialRequestOptionsJSON>>('/webauthn/authentication/options', {
    method: 'POST',
    body: {},
  });
  const response = await startAuthentication({ optionsJSON: options });
  return api<Session>('/webauthn/authentication', { method: 'POST', body: { challengeId, response } });
}

/** The browser's own words when a person cancels or no authenticator answers are cryptic; say what to do. */
export function passkeyError(err: unknown): string {
  const e = err as Error;
  if (e?.name === 'NotAllowedError') return 'The passkey prompt was cancelled or timed out. Try again.';
  if (e?.name === 'InvalidStateError') return 'This authenticator already holds a passkey for this account.';
  return e?.message ?? String(err);
}

/**
 * A failed enrolment: the browser's WebAuthn failures are named (NotAllowedError, ...) and get
 * passkeyError's words; the control plane's (ApiError, plain "Error") keep their own message.
 */
export function enrolErrorText(err: unknown): string {
  return err instanceof Error && err.name !== 'Error' && err.name.endsWith('Error') ? passkeyError(err) : errorText(err);
}
