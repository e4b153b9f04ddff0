/**
 * WebAuthn challenges kept in the database between the two halves of a ceremony: the Worker is
 * stateless, and a challenge must be answered once, by the ceremony it was made for, in time.
 */
import { newId } from '../../../protocol/index.js';
import type { Db } from '../../db.js';
import { HttpError } from '../../http.js';

export type Ceremony = 'setup' | 'invite' | 'add' | 'signin';

/** Long enough for a person to find their security key; short enough that a leaked one is stale. */
const CHALLENGE_SECONDS = 5 * 60;

export interface PendingChallenge {
  id: string;
  challenge: string;
  ceremony: Ceremony;
  userId: string | null;
  userName: string | null;
  tokenHash: string | null;
}

export async function saveChallenge(db: Db, c: Omit<PendingChallenge, 'id'>): Promise<string> {
  const id = `c${newId('k', 24).slice(1)}`;
  // Expired challenges nobody answered would pile up otherwise; this is cheap with the index.
  await db.query('DELETE FROM webauthn_challenges WHERE expires_at < now()');
  await db.query(
    `INSERT INTO webauthn_challenges (id, challenge, ceremony, user_id, user_name, token_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
    [id, c.challenge, c.ceremony, c.userId, c.userName, c.tokenHash, CHALLENGE_SECONDS],
  );
  return id;
}

/** Takes the challenge out (one-time): a second answer to it, or a late one, is refused. */
export async function takeChallenge(db: Db, id: string, ceremonies: Ceremony[]): Promise<PendingChallenge> {
  const { rows } = await db.query(
    `DELETE FROM webauthn_challenges WHERE id = $1 AND expires_at > now() AND ceremony = ANY($2)
     RETURNING challenge, ceremony, user_id, user_name, token_hash`,
    [id, ceremonies],
  );
  const r = rows[0];
  if (!r) {
    throw new HttpError(400, 'challenge_expired', 'this passkey prompt expired or was already answered; start again');
  }
  return { id, challenge: r.challenge, ceremony: r.ceremony, userId: r.user_id, userName: r.user_name, tokenHash: r.token_hash };
}
