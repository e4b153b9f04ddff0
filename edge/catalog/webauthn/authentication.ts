/**
 * Signing in with a passkey: usernameless (discoverable credentials), so the options name no
 * credential and the authenticator picks one; the answer's credential id finds the user.
 */
import { generateAuthenticationOptions, verifyAuthenticationResponse } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import type { IRequest } from 'itty-router';
import { AuthenticationFinish, type CeremonyOptions } from '../../../protocol/index.js';
import { requireJsonBody, startUserSession } from '../../api/sessions.js';
import type { Deps } from '../../deps.js';
import { HttpError, json, readJson } from '../../http.js';
import { saveChallenge, takeChallenge } from './challenges.js';
import { relyingParty } from './relying-party.js';

/** POST /api/v1/webauthn/authentication/options */
export async function authenticationOptions(request: IRequest, deps: Deps): Promise<Response> {
  requireJsonBody(request, 'the sign-in request');
  const rp = relyingParty(deps.env);
  const options = await generateAuthenticationOptions({ rpID: rp.id, userVerification: 'required', allowCredentials: [] });
  const challengeId = await saveChallenge(deps.db(), { challenge: options.challenge, ceremony: 'signin', userId: null, userName: null, tokenHash: null });
  const answer: CeremonyOptions<typeof options> = { challengeId, options };
  return json(answer);
}

const unknownPasskey = () =>
  new HttpError(401, 'passkey_unknown', 'this passkey is not enrolled here (or was removed); sign in with another one or a recovery code');

/** POST /api/v1/webauthn/authentication: verifies the signature and the counter, then starts a session. */
export async function authenticate(request: IRequest, deps: Deps): Promise<Response> {
  requireJsonBody(request, 'the authenticator answer');
  const body = await readJson(request, AuthenticationFinish);
  const db = deps.db();
  const rp = relyingParty(deps.env);
  const pending = await takeChallenge(db, body.challengeId, ['signin']);
  const { rows } = await db.query(
    `SELECT p.id, p.user_id, p.public_key, p.counter, p.transports, u.name, u.disabled_at
     FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.id = $1`,
    [body.response.id],
  );
  const stored = rows[0];
  if (!stored) throw unknownPasskey();
  const verification = await verifyAuthenticationResponse({
    response: body.response,
    expectedChallenge: pending.challenge,
    expectedOrigin: rp.origins,
    expectedRPID: rp.id,
    requireUserVerification: true,
    credential: {
      id: stored.id,
      publicKey: isoBase64URL.toBuffer(stored.public_key),
      counter: Number(stored.counter),
      transports: stored.transports,
    },
  }).catch((err: Error) => {
    // Among others: a signature counter that did not move forward (a cloned authenticator).
    throw new HttpError(401, 'passkey_not_verified', `the passkey sign-in could not be verified: ${err.message}`);
  });
  if (!verification.verified) throw new HttpError(401, 'passkey_not_verified', 'the passkey sign-in could not be verified; try again');
  if (stored.disabled_at) throw new HttpError(403, 'user_disabled', `user ${stored.name} is disabled; an admin can enable it again`);
  const { newCounter } = verification.authenticationInfo;
  // Conditional: of two sign-ins racing with one counter value, only one moves it (authenticators
  // that always report 0 do not count, as WebAuthn allows).
  const moved = await db.query(
    `UPDATE passkeys SET counter = $2, last_used_at = now() WHERE id = $1 AND (counter < $2 OR ($2 = 0 AND counter = 0)) RETURNING 1`,
    [stored.id, newCounter],
  );
  if (!moved.rows[0]) {
    throw new HttpError(401, 'passkey_not_verified', 'the passkey signature counter went backwards: the authenticator may have been cloned');
  }
  const started = await startUserSession(db, stored.user_id, 'passkey');
  return json(started.session, 201, { 'set-cookie': started.cookie });
}
