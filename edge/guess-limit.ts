/**
 * Limits on guessing short-lived secrets, counted in PostgreSQL (Worker isolates share nothing):
 * device user codes (8 letters of 20, ten minutes) and recovery codes. Only misses count, in a fixed
 * window per key; once a key has used up its misses every attempt is refused until the window ends,
 * a right guess included, so a guesser cannot tell a hit from a refusal.
 *
 * Cost: the statement that looks the secret up also reads the key's row (`retryAfterSql`), and a
 * miss adds one upsert (`recordMiss`); a hit adds nothing.
 */
import type { Db, Tx } from './db.js';
import { HttpError } from './http.js';

export interface GuessLimit {
  scope: string;
  max: number;
  windowS: number;
  /** Says why the caller waits and what to do meanwhile; gets "; try again in …" appended. */
  message: string;
}

/** Per signed-in user: codes looked up, approved or denied that wait for no approval (or are not there). */
export const DEVICE_CODE_GUESSES: GuessLimit = {
  scope: 'device_code',
  max: 10,
  windowS: 600,
  message: 'too many sign-in codes that match no waiting request; check the code the device shows',
};

/** Per target user name (existing or not, so the limit tells nothing about which names exist). */
export const RECOVERY_CODE_GUESSES: GuessLimit = {
  scope: 'recovery_code',
  max: 5,
  windowS: 900,
  message: 'too many wrong recovery codes for this name; sign in with a passkey instead, or',
};

/**
 * A scalar SQL subquery: seconds until key `$keyParam` may guess again, NULL while it may. Meant as a
 * column of the statement that looks the secret up, so the check costs no statement of its own.
 * Scope and max come from the constants above, never from a request.
 */
export function retryAfterSql(limit: GuessLimit, keyParam: number): string {
  return `(SELECT greatest(1, ceil(extract(epoch FROM reset_at - now())))::int FROM guess_misses
    WHERE scope = '${limit.scope}' AND key = $${keyParam} AND misses >= ${limit.max} AND reset_at > now())`;
}

export function tooManyAttempts(limit: GuessLimit, retryAfterS: number): HttpError {
  const wait = retryAfterS >= 120 ? `${Math.ceil(retryAfterS / 60)} minutes` : `${retryAfterS} seconds`;
  const joiner = limit.message.endsWith(' or') ? ' ' : '; ';
  return new HttpError(429, 'too_many_attempts', `${limit.message}${joiner}try again in ${wait}`, undefined, {
    'retry-after': String(retryAfterS),
  });
}

/**
 * Counts a miss for `key` and throws 429 when it goes over the limit (two misses raced past the
 * check); otherwise the caller answers the miss as usual. A miss that starts a new window also
 * deletes some ended windows: cheap (an index range), never waits on a locked row.
 */
export async function recordMiss(db: Db | Tx, limit: GuessLimit, key: string): Promise<void> {
  const { rows } = await db.query(
    `INSERT INTO guess_misses AS g (scope, key, misses, reset_at) VALUES ($1, $2, 1, now() + make_interval(secs => $3))
     ON CONFLICT (scope, key) DO UPDATE SET
       misses = CASE WHEN g.reset_at <= now() THEN 1 ELSE g.misses + 1 END,
       reset_at = CASE WHEN g.reset_at <= now() THEN excluded.reset_at ELSE g.reset_at END
     RETURNING misses, greatest(1, ceil(extract(epoch FROM reset_at - now())))::int AS retry_after`,
    [limit.scope, key, limit.windowS],
  );
  const { misses, retry_after } = rows[0] as { misses: number; retry_after: number };
  if (misses === 1) {
    await db.query(
      `DELETE FROM guess_misses WHERE (scope, key) IN
         (SELECT scope, key FROM guess_misses WHERE reset_at < now() LIMIT 200 FOR UPDATE SKIP LOCKED)`,
    );
  }
  if (misses > limit.max) throw tooManyAttempts(limit, retry_after);
}
