import type { IRequest } from 'itty-router';
import type { RotatedKeys } from '../../protocol/index.js';
import { requireAdmin } from '../api/admin.js';
import { requireUser } from '../auth.js';
import type { Deps } from '../deps.js';
import { json } from '../http.js';
import { rotateCatalogKeys } from './keys.js';

/**
 * POST /api/v1/admin/catalog-keys/rotate: `next` (published since the last rotation) starts signing,
 * `current` retires but stays published until what it signed has expired, a new `next` is published.
 */
export async function rotateKeys(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireAdmin(user, 'rotating the catalog signing keys');
  const rotated: RotatedKeys = await rotateCatalogKeys(deps.env, deps.db());
  await deps.db().query(`INSERT INTO events (actor, kind, data) VALUES ($1, 'catalog.keys_rotated', $2)`, [user.id, JSON.stringify(rotated)]);
  return json(rotated);
}
