import { generateToken, hashToken, newId } from '../protocol/index.js';
import { createPool, type DbOptions } from '../sql/connect.js';

/**
 * First-run credentials, written straight to the database (there is no user yet to call the API):
 * an admin user with an API token, and a join token for agents. Secrets are returned once; only
 * their hashes are stored.
 */
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

export async function createJoinToken(db: DbOptions): Promise<string> {
  const pool = createPool(db, 1);
  try {
    const token = generateToken('zj');
    await pool.query('INSERT INTO join_tokens (id, token_hash) VALUES ($1, $2)', [newId('k'), await hashToken(token)]);
    return token;
  } finally {
    await pool.end();
  }
}
