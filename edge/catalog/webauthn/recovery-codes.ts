/**
 * Recovery codes: ten one-time codes of 80 random bits (16 base32 characters, shown in groups of
 * four), made at a user's first enrolment and shown once. Only SHA-256 of (user id, code) is stored:
 * with 80 bits a fast hash is enough, and the user id keeps equal codes of two users apart.
 */
import { hashToken } from '../../../protocol/index.js';
import type { Db, Tx } from '../../db.js';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'; // 32 symbols, none that read alike (no l/1, o/0)
export const RECOVERY_CODE_COUNT = 10;

function newCode(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const chars = [...bytes].map((b) => ALPHABET[b % 32]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** Spaces, dashes and case do not matter when a person types a code back. */
export function recoveryCodeHash(userId: string, code: string): Promise<string> {
  return hashToken(`${userId}:${code.toLowerCase().replace(/[^a-z0-9]/g, '')}`);
}

/** Replaces every code of the user with ten new ones and returns them (the only time they are seen). */
export async function issueRecoveryCodes(db: Db | Tx, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
  await db.query('INSERT INTO recovery_codes (code_hash, user_id) SELECT unnest($1::text[]), $2', [
    await Promise.all(codes.map((c) => recoveryCodeHash(userId, c))),
    userId,
  ]);
  return codes;
}

export async function hasRecoveryCodes(db: Db | Tx, userId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1 LIMIT 1', [userId]);
  return rows.length > 0;
}
