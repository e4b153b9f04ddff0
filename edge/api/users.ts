import type { IRequest } from 'itty-router';
import type { DisabledUser, UserView } from '../../protocol/index.js';
import { requireUser } from '../auth.js';
import { transaction, type Db, type Tx } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, iso, json } from '../http.js';
import { requireAdmin } from './admin.js';


const SELECT = `SELECT u.id, u.name, u.is_admin, u.created_at, u.disabled_at,
  coalesce(json_agg(json_build_object('project', p.slug, 'role', m.role) ORDER BY p.slug) FILTER (WHERE p.id IS NOT NULL), '[]') AS projects
  FROM users u LEFT JOIN members m ON m.user_id = u.id LEFT JOIN projects p ON p.id = m.project_id`;

function view(r: Record<string, unknown>): UserView {
  const projects = typeof r.projects === 'string' ? JSON.parse(r.projects) : r.projects;
  return {
    id: r.id as string,
    name: r.name as string,
    isAdmin: r.is_admin as boolean,
    createdAt: iso(r.created_at)!,
    disabledAt: iso(r.disabled_at),
    projects: projects as UserView['projects'],
  };
}

async function loadUser(db: Db | Tx, id: string): Promise<UserView> {
  const { rows } = await db.query(`${SELECT} WHERE u.id = $1 GROUP BY u.id`, [id]);
  return view(rows[0]);
}

/** A user by id or name (an id wins if a name happens to equal another user's id). */
async function findUser(db: Db | Tx, ref: string): Promise<{ id: string; name: string; isAdmin: boolean; disabledAt: string | null } | null> {
  const { rows } = await db.query(
    'SELECT id, name, is_admin, disabled_at FROM users WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1',
    [ref],
  );
  const r = rows[0];
  return r ? { id: r.id, name: r.name, isAdmin: r.is_admin, disabledAt: iso(r.disabled_at) } : null;
}

const userNotFound = (ref: string) => new HttpError(404, 'user_not_found', `no user ${ref} (give a user name or id; see zectre users list)`);

/** GET /api/v1/users (admin): every user with its memberships, by name. */
export async function listUsers(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  requireAdmin(user, 'managing users');
  const { rows } = await deps.db().query(`${SELECT} GROUP BY u.id ORDER BY u.name`);
  return json({ users: rows.map(view) });
}

/** Writes `kind` once without a project (the admin's trail) and once in each project the user belongs to. */
async function userEvent(tx: Tx, actor: string, target: string, kind: string, data: Record<string, unknown>): Promise<void> {
  await tx.query(
    `INSERT INTO events (actor, project_id, kind, data)
     SELECT $1, NULL, $3, $4::jsonb UNION ALL SELECT $1, project_id, $3, $4::jsonb FROM members WHERE user_id = $2`,
    [actor, target, kind, JSON.stringify(data)],
  );
}

/**
 * POST /api/v1/users/:user/disable (admin). The user's API tokens are revoked and their dashboard
 * sessions deleted in the same transaction (auth.ts accepts only unrevoked tokens), and invites it
 * made that are still pending are revoked. Memberships stay, so enabling restores the roles; the
 * user then needs a new credential (a sign-in, or a token an admin makes).
 */
export async function disableUser(request: IRequest, deps: Deps): Promise<Response> {
  const caller = await requireUser(request, deps);
  requireAdmin(caller, 'managing users');
  const ref = request.params.user!;
  const answer = await transaction(deps.db(), async (tx): Promise<DisabledUser> => {
    const target = await findUser(tx, ref);
    if (!target) throw userNotFound(ref);
    if (target.id === caller.id) throw new HttpError(409, 'cannot_disable_self', 'you cannot disable yourself; ask another admin');
    if (target.isAdmin) {
      // Locks the enabled admins: of two admins disabling each other at once, the second sees the first's change.
      const { rows } = await tx.query('SELECT id FROM users WHERE is_admin AND disabled_at IS NULL ORDER BY id FOR UPDATE');
      if (!rows.some((r) => r.id !== target.id)) {
        throw new HttpError(409, 'last_admin', `${target.name} is the last enabled admin; make another admin first`);
      }
    }
    await tx.query('UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1', [target.id]);
    const sessions = await tx.query('DELETE FROM sessions WHERE user_id = $1 OR token_id IN (SELECT id FROM api_tokens WHERE user_id = $1)', [target.id]);
    const tokens = await tx.query('UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [target.id]);
    const invites = await tx.query(
      'UPDATE invites SET revoked_at = now() WHERE created_by = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()',
      [target.id],
    );
    const counts = { tokensRevoked: tokens.rowCount ?? 0, sessionsEnded: sessions.rowCount ?? 0, invitesRevoked: invites.rowCount ?? 0 };
    if (!target.disabledAt) await userEvent(tx, caller.id, target.id, 'user.disabled', { userId: target.id, user: target.name, ...counts });
    return { user: await loadUser(tx, target.id), ...counts };
  });
  return json(answer);
}

/** POST /api/v1/users/:user/enable (admin): the user may act again with new credentials (its old tokens stay revoked). */
export async function enableUser(request: IRequest, deps: Deps): Promise<Response> {
  const caller = await requireUser(request, deps);
  requireAdmin(caller, 'managing users');
  const ref = request.params.user!;
  const user = await transaction(deps.db(), async (tx) => {
    const target = await findUser(tx, ref);
    if (!target) throw userNotFound(ref);
    if (target.disabledAt) {
      await tx.query('UPDATE users SET disabled_at = NULL WHERE id = $1', [target.id]);
      await userEvent(tx, caller.id, target.id, 'user.enabled', { userId: target.id, user: target.name });
    }
    return loadUser(tx, target.id);
  });
  return json({ user });
}
