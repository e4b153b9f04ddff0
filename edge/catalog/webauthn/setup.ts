/**
 * The first admin: whoever holds a setup link (a one-time token printed by `npm start` or
 * `npm run setup`) or the SETUP_SECRET Worker secret may enrol a passkey for an admin user, while no
 * admin has a passkey yet. After that the way in is a passkey, a recovery code or an invite.
 */
import { hashToken } from '../../../protocol/index.js';
import type { Db, Tx } from '../../db.js';
import type { Env } from '../../env.js';
import { HttpError } from '../../http.js';

/** Marks a ceremony started with SETUP_SECRET (there is no setup_tokens row to spend). */
export const SECRET_MARK = 'setup-secret';

const refused = () =>
  new HttpError(
    403,
    'setup_link_invalid',
    'this setup link is unknown, used or expired, or an admin already has a passkey; sign in, or print a new link with npm run setup',
  );

async function adminHasPasskey(db: Db | Tx): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM passkeys p JOIN users u ON u.id = p.user_id WHERE u.is_admin AND u.disabled_at IS NULL LIMIT 1');
  return rows.length > 0;
}

/** Compares in time independent of where the strings differ (both are hashed first). */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([hashToken(a), hashToken(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
  return diff === 0;
}

/** Checks a setup token at the start of the ceremony; returns what the completion will spend. */
export async function checkSetupToken(env: Env, db: Db, token: string): Promise<string> {
  if (await adminHasPasskey(db)) throw refused();
  const secret = env.SETUP_SECRET?.trim();
  if (secret && secret.length >= 16 && (await sameSecret(token, secret))) return SECRET_MARK;
  const hash = await hashToken(token);
  const { rows } = await db.query('SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()', [hash]);
  if (!rows[0]) throw refused();
  return hash;
}

/**
 * Spends the setup token inside the enrolment's transaction: of two ceremonies racing on one link
 * (or on the secret), the second finds an admin with a passkey and is refused.
 */
export async function spendSetupToken(tx: Tx, spend: string, userId: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('zectre-setup'))`);
  if (await adminHasPasskey(tx)) throw refused();
  if (spend === SECRET_MARK) return;
  const { rows } = await tx.query(
    'UPDATE setup_tokens SET used_at = now(), used_by = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING 1',
    [spend, userId],
  );
  if (!rows[0]) throw refused();
}
