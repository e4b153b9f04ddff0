/**
 * Enrolling a passkey, in two requests (options, then the authenticator's answer), for one of:
 * the first admin (setup link), a new person (invite link), or the signed-in user adding another.
 * Passkeys are discoverable (resident) credentials, so signing in later needs no user name.
 */
import { generateRegistrationOptions, verifyRegistrationResponse } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import type { IRequest } from 'itty-router';
import {
  RegistrationFinish, RegistrationStart, hashToken, newId,
  type CeremonyOptions, type Enrolled, type PasskeyView,
} from '../../../protocol/index.js';
import { acceptInviteIn, findInvite } from '../../api/invites.js';
import { requireJsonBody, startUserSession } from '../../api/sessions.js';
import { requireUser } from '../../auth.js';
import { transaction, type Tx } from '../../db.js';
import type { Deps } from '../../deps.js';
import { HttpError, json, readJson } from '../../http.js';
import { saveChallenge, takeChallenge, type Ceremony } from './challenges.js';
import { hasRecoveryCodes, issueRecoveryCodes } from './recovery-codes.js';
import { relyingParty } from './relying-party.js';
import { checkSetupToken, spendSetupToken } from './setup.js';

const bytes = (s: string) => new TextEncoder().encode(s);

const inviteGone = () =>
  new HttpError(404, 'invite_not_found', 'this invite link is unknown, already used, revoked or expired; ask an owner of the project for a new one');

const nameTaken = (name: string) =>
  new HttpError(409, 'name_taken', `the name ${name} is taken; pick another one (or, if it is you, sign in and open the invite link again)`);

/** POST /api/v1/webauthn/registration/options */
export async function registrationOptions(request: IRequest, deps: Deps): Promise<Response> {
  requireJsonBody(request, 'the enrolment request');
  const body = await readJson(request, RegistrationStart);
  const db = deps.db();
  const rp = relyingParty(deps.env);
  let ceremony: Ceremony;
  let userId: string;
  let userName: string;
  let tokenHash: string | null = null;
  if ('setupToken' in body) {
    ceremony = 'setup';
    tokenHash = await checkSetupToken(deps.env, db, body.setupToken);
    userName = body.name ?? 'admin';
    // `npm start` made an "admin" user for the CLI: the setup link gives that same user its passkey.
    const { rows } = await db.query('SELECT id FROM users WHERE name = $1', [userName]);
    userId = rows[0]?.id ?? newId('u');
  } else if ('inviteToken' in body) {
    ceremony = 'invite';
    tokenHash = await hashToken(body.inviteToken);
    if (!(await findInvite(db, body.inviteToken))) throw inviteGone();
    const taken = await db.query('SELECT 1 FROM users WHERE name = $1', [body.name]);
    if (taken.rows[0]) throw nameTaken(body.name);
    userName = body.name;
    userId = newId('u');
  } else {
    ceremony = 'add';
    const user = await requireUser(request, deps);
    if (user.via !== 'session') throw new HttpError(403, 'passkey_needs_browser', 'passkeys are added in the dashboard, signed in');
    userId = user.id;
    userName = user.name;
  }
  const { rows: existing } = await db.query('SELECT id, transports FROM passkeys WHERE user_id = $1', [userId]);
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName,
    userID: bytes(userId),
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.id as string, transports: p.transports as string[] })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  const challengeId = await saveChallenge(db, { challenge: options.challenge, ceremony, userId, userName, tokenHash });
  const answer: CeremonyOptions<typeof options> = { challengeId, options };
  return json(answer);
}

/** POST /api/v1/webauthn/registration: verifies the answer, stores the passkey and signs the user in. */
export async function register(request: IRequest, deps: Deps): Promise<Response> {
  requireJsonBody(request, 'the authenticator answer');
  const body = await readJson(request, RegistrationFinish);
  const db = deps.db();
  const rp = relyingParty(deps.env);
  const pending = await takeChallenge(db, body.challengeId, ['setup', 'invite', 'add']);
  if (pending.ceremony === 'invite' && (!body.inviteToken || (await hashToken(body.inviteToken)) !== pending.tokenHash)) {
    // acceptInvite spends the token itself; only its hash was kept with the challenge.
    throw new HttpError(400, 'invite_token_mismatch', 'send the same inviteToken with the answer as with the options request');
  }
  if (pending.ceremony === 'add') {
    // The same person must finish what they started.
    const user = await requireUser(request, deps);
    if (user.id !== pending.userId) throw new HttpError(403, 'forbidden', 'this passkey prompt was started by another user');
  }
  const verification = await verifyRegistrationResponse({
    response: body.response,
    expectedChallenge: pending.challenge,
    expectedOrigin: rp.origins,
    expectedRPID: rp.id,
    requireUserVerification: true,
  }).catch((err: Error) => {
    throw new HttpError(400, 'passkey_not_verified', `the passkey could not be verified: ${err.message}`);
  });
  if (!verification.verified) throw new HttpError(400, 'passkey_not_verified', 'the passkey could not be verified; try again');
  const info = verification.registrationInfo;
  const userId = pending.userId!;
  const userName = pending.userName!;
  const passkeyName = body.passkeyName ?? (pending.ceremony === 'add' ? 'another passkey' : 'first passkey');

  const { passkey, recoveryCodes, invite } = await transaction(db, async (tx) => {
    let invite: Enrolled['invite'];
    if (pending.ceremony === 'setup') {
      await spendSetupToken(tx, pending.tokenHash!, userId);
      await tx.query(
        `INSERT INTO users (id, name, is_admin) VALUES ($1, $2, true) ON CONFLICT (id) DO UPDATE SET is_admin = true, disabled_at = NULL`,
        [userId, userName],
      );
      await tx.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'setup.completed', $2)`, [userId, JSON.stringify({ user: userName })]);
    } else if (pending.ceremony === 'invite') {
      const created = await tx.query('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id', [userId, userName]);
      if (!created.rows[0]) throw nameTaken(userName);
      // One transaction: if the invite died meanwhile (revoked, or spent by someone else), no user is left behind.
      const accepted = await acceptInviteIn(tx, body.inviteToken!, userId);
      invite = { project: accepted.project, role: accepted.role, message: accepted.message };
    }
    const passkey = await storePasskey(tx, userId, passkeyName, info);
    await tx.query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'passkey.added', $2)`, [userId, JSON.stringify({ passkey: passkey.id, name: passkeyName })]);
    // Codes are made at the first enrolment; adding a passkey later keeps the ones the user has.
    const recoveryCodes = (await hasRecoveryCodes(tx, userId)) ? undefined : await issueRecoveryCodes(tx, userId);
    return { passkey, recoveryCodes, invite };
  });

  const started = await startUserSession(db, userId, 'passkey');
  const answer: Enrolled = { session: started.session, passkey, recoveryCodes, invite };
  return json(answer, 201, { 'set-cookie': started.cookie });
}

type RegistrationInfo = NonNullable<Awaited<ReturnType<typeof verifyRegistrationResponse>>['registrationInfo']>;

async function storePasskey(tx: Tx, userId: string, name: string, info: RegistrationInfo): Promise<PasskeyView> {
  const { credential } = info;
  const { rows } = await tx.query(
    `INSERT INTO passkeys (id, user_id, public_key, counter, transports, device_type, backed_up, name)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING created_at`,
    [credential.id, userId, isoBase64URL.fromBuffer(credential.publicKey), credential.counter, credential.transports ?? [],
      info.credentialDeviceType, info.credentialBackedUp, name],
  );
  if (!rows[0]) throw new HttpError(409, 'passkey_exists', 'this passkey is already enrolled');
  return { id: credential.id, name, createdAt: new Date(rows[0].created_at).toISOString(), lastUsedAt: null, backedUp: info.credentialBackedUp };
}
