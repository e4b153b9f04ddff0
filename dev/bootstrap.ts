import { SETUP_TOKEN_SECONDS, generateSetupToken, generateToken, hashToken, newId } from '../protocol/index.js';
import { createPool, type DbOptions } from '../sql/connect.js';

/**
 * First-run credentials, written straight to the database (there is no user yet to call the API):
 * an admin user with an API token, and a join token for agents. Secrets are returned once; only
 * their hashes are stored.
 */

/** How long a bootstrap join token registers nodes (the API's default too); the local stack makes a new one each start. */
export const BOOTSTRAP_JOIN_TOKEN_SECONDS = 24 * 3600;

export async function createAdminToken(db: DbOptions, userName = 'admin'): Promise<string> {
  const pool = createPool(db, 1);
  try {
    const token = generateToken('zt');
    const { rows } = await pool.query(
      `INSERT INTO users (id, name, is_admin) VALUES ($1, $2, true)
       ON CONFLICT (name) DO UPDATE SET is_admin = true RETURNING id`,
      [newId('u'), userName],
    );
    await pool.query(`INSERT INTO api_tokens (id, user_id, name, token_hash, scopes) VALUES ($1, $2, 'bootstrap', $3, '{admin}')`, [
      newId('k'),
      rows[0].id,
      await hashToken(token),
    ]);
    return token;
  } finally {
    await pool.end();
  }
}

/** A reusable join token that expires; `replaces`, when given, is revoked by the same statement. */
export async function createJoinToken(db: DbOptions, replaces?: string): Promise<string> {
  const pool = createPool(db, 1);
  try {
    const token = generateToken('zj');
    await pool.query(
      `WITH revoked AS (UPDATE join_tokens SET revoked_at = now() WHERE token_hash = $3 AND revoked_at IS NULL)
       INSERT INTO join_tokens (id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $4))`,
      [newId('k'), await hashToken(token), replaces ? await hashToken(replaces) : null, BOOTSTRAP_JOIN_TOKEN_SECONDS],
    );
    return token;
  } finally {
    await pool.end();
  }
}

/**
 * A one-time setup link's token (the first admin's passkey enrolment, /setup#<token>), or null when
 * an admin already has a passkey: then there is nothing to set up and no link is printed.
 */
export async function createSetupToken(db: DbOptions): Promise<string | null> {
  const pool = createPool(db, 1);
  try {
    const { rows } = await pool.query('SELECT 1 FROM passkeys p JOIN users u ON u.id = p.user_id WHERE u.is_admin AND u.disabled_at IS NULL LIMIT 1');
    if (rows[0]) return null;
    const token = generateSetupToken();
    await pool.query(`INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, now() + make_interval(secs => $2))`, [
      await hashToken(token),
      SETUP_TOKEN_SECONDS,
    ]);
    return token;
  } finally {
    await pool.end();
  }
}
