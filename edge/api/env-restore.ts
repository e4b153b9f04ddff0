import type { User } from '../auth.js';
import { decrypt, encrypt } from '../../protocol/crypto.js';
import { transaction, type Tx } from '../db.js';
import type { Deps } from '../deps.js';
import type { ReleaseRow } from './release.js';

/**
 * A rollback restores the target release's env as the project's env, as Heroku's rollback restores a
 * release's config vars: `env list` then shows what runs, and the next deploy or env change builds on
 * it instead of bringing the newer values back. The snapshot is the whole env that release ran with,
 * so values it got from `deploy --env` become project vars too. Only changed keys are written (their
 * updated_at moves); returns the keys set or removed.
 */
export async function restoreReleaseEnv(deps: Deps, user: User, release: ReleaseRow): Promise<string[]> {
  return transaction(deps.db(), (tx) => restoreReleaseEnvIn(tx, deps, user, release));
}

/** The same inside the caller's transaction (an instant rollback switches routing and env at once). */
export async function restoreReleaseEnvIn(tx: Tx, deps: Deps, user: User, release: ReleaseRow): Promise<string[]> {
  const key = deps.env.ENV_ENCRYPTION_KEY;
  const target = JSON.parse(await decrypt(key, release.env_enc)) as Record<string, string>;
  // Locks the project's vars against a concurrent env set, which would otherwise be half-overwritten.
  const { rows } = await tx.query('SELECT key, value_enc FROM env_vars WHERE project_id = $1 ORDER BY key FOR UPDATE', [release.project_id]);
  const current = new Map<string, string>();
  for (const r of rows) current.set(r.key, await decrypt(key, r.value_enc));
  const removed = [...current.keys()].filter((k) => !(k in target));
  const set = Object.keys(target).filter((k) => current.get(k) !== target[k]);
  if (removed.length) await tx.query('DELETE FROM env_vars WHERE project_id = $1 AND key = ANY($2)', [release.project_id, removed]);
  for (const k of set) {
    await tx.query(
      `INSERT INTO env_vars (project_id, key, value_enc) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, key) DO UPDATE SET value_enc = EXCLUDED.value_enc, updated_at = now()`,
      [release.project_id, k, await encrypt(key, target[k]!)],
    );
  }
  const changed = [...set, ...removed].sort();
  if (changed.length) {
    // The audit trail names keys only; values are secrets.
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'env.restored', $3)`, [
      user.id, release.project_id, JSON.stringify({ from: release.id, set: set.sort(), unset: removed.sort() }),
    ]);
  }
  return changed;
}
