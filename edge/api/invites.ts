import type { IRequest } from 'itty-router';
import {
  CreateInvite, INVITE_DEFAULT_HOURS, ROLE_RANK, generateInviteToken, hashToken, invitePath, newInviteId,
  type AcceptedInvite, type CreatedInvite, type InvitePreview, type InviteState, type InviteView, type ProjectRole,
} from '../../protocol/index.js';
import { requireProject, requireUser } from '../auth.js';
import { transaction, type Db, type Tx } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, iso, json, readJson } from '../http.js';


/** Unknown, used, revoked and expired look alike: the link holder learns only that it no longer works. */
const inviteGone = () =>
  new HttpError(404, 'invite_not_found', 'this invite link is unknown, already used, revoked or expired; ask an owner of the project for a new one');

const PENDING = 'i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()';

/** POST /api/v1/projects/:project/invites (owner): a one-time link granting `role`; the token is shown only here. */
export async function createInvite(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const body = await readJson(request, CreateInvite);
  const token = generateInviteToken();
  const id = newInviteId();
  const seconds = (body.expiresInHours ?? INVITE_DEFAULT_HOURS) * 3600;
  const expiresAt = await transaction(deps.db(), async (tx) => {
    const { rows } = await tx.query(
      `INSERT INTO invites (id, project_id, role, token_hash, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
      [id, project.id, body.role, await hashToken(token), user.id, seconds],
    );
    const at = iso(rows[0].expires_at)!;
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'invite.created', $3)`, [
      user.id, project.id, JSON.stringify({ inviteId: id, role: body.role, expiresAt: at }),
    ]);
    return at;
  });
  const answer: CreatedInvite = { id, role: body.role, expiresAt, token, url: invitePath(token) };
  return json(answer, 201);
}

function state(r: Record<string, unknown>): InviteState {
  if (r.accepted_at) return 'accepted';
  if (r.revoked_at) return 'revoked';
  return new Date(r.expires_at as string).getTime() > Date.now() ? 'pending' : 'expired';
}

const SELECT = `SELECT i.id, i.role, i.created_at, i.expires_at, i.accepted_at, i.revoked_at, c.name AS created_by, a.name AS accepted_by
                FROM invites i LEFT JOIN users c ON c.id = i.created_by LEFT JOIN users a ON a.id = i.accepted_by`;

function view(r: Record<string, unknown>): InviteView {
  return {
    id: r.id as string,
    role: r.role as ProjectRole,
    state: state(r),
    createdBy: (r.created_by as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    expiresAt: iso(r.expires_at)!,
    acceptedBy: (r.accepted_by as string | null) ?? null,
    acceptedAt: iso(r.accepted_at),
    revokedAt: iso(r.revoked_at),
  };
}

/** GET /api/v1/projects/:project/invites (owner): every invite of the project, newest first; never a token. */
export async function listInvites(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const { rows } = await deps.db().query(`${SELECT} WHERE i.project_id = $1 ORDER BY i.created_at DESC, i.id`, [project.id]);
  return json({ invites: rows.map(view) });
}

/** DELETE /api/v1/projects/:project/invites/:id (owner): the link stops working at once. */
export async function revokeInvite(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const id = request.params.id!;
  const row = await transaction(deps.db(), async (tx) => {
    const { rows } = await tx.query('SELECT accepted_at, revoked_at FROM invites WHERE id = $1 AND project_id = $2 FOR UPDATE', [id, project.id]);
    if (!rows[0]) throw new HttpError(404, 'invite_not_found', `project ${project.slug} has no invite ${id}`);
    if (rows[0].accepted_at) {
      throw new HttpError(409, 'invite_already_accepted', `invite ${id} was already accepted; to take the access back, remove the member (zectre members remove)`);
    }
    if (!rows[0].revoked_at) {
      await tx.query('UPDATE invites SET revoked_at = now() WHERE id = $1', [id]);
      await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'invite.revoked', $3)`, [
        user.id, project.id, JSON.stringify({ inviteId: id }),
      ]);
    }
    return (await tx.query(`${SELECT} WHERE i.id = $1`, [id])).rows[0];
  });
  return json({ invite: view(row) });
}

/** What a pending invite offers, or null when the link is unknown, used, revoked or expired (e.g. before a sign-up). */
export async function findInvite(db: Db | Tx, token: string): Promise<InvitePreview | null> {
  const { rows } = await db.query(
    `SELECT p.slug, i.role, i.expires_at, c.name AS invited_by FROM invites i JOIN projects p ON p.id = i.project_id
     LEFT JOIN users c ON c.id = i.created_by WHERE i.token_hash = $1 AND ${PENDING}`,
    [await hashToken(token)],
  );
  const r = rows[0];
  return r ? { project: r.slug, role: r.role, invitedBy: r.invited_by ?? null, expiresAt: iso(r.expires_at)! } : null;
}

/** GET /api/v1/invites/:token (no sign-in): what the link offers, for the acceptance page. */
export async function previewInvite(request: IRequest, deps: Deps): Promise<Response> {
  const answer = await findInvite(deps.db(), request.params.token!);
  if (!answer) throw inviteGone();
  return json(answer);
}

/** POST /api/v1/invites/:token/accept: the signed-in user joins the project with the invite's role. */
export async function acceptInviteRoute(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  // A token limited to one project must not reach into another one.
  if (user.tokenProjectId) throw new HttpError(403, 'forbidden', 'a project-scoped token cannot accept invites; use a global token or sign in');
  return json(await acceptInvite(deps.db(), request.params.token!, user.id));
}

/**
 * Spends the invite `token` for user `userId`, who becomes a member with the invite's role, or keeps
 * a higher role already held. One-time: the invite is claimed by a conditional UPDATE, so of two
 * concurrent accepts exactly one succeeds; the other gets 404 invite_not_found like any dead link.
 * Also called when a new person registers from an invite (the passkey sign-up creates the user first).
 */
export async function acceptInvite(db: Db, token: string, userId: string): Promise<AcceptedInvite> {
  return transaction(db, (tx) => acceptInviteIn(tx, token, userId));
}

/** acceptInvite inside the caller's transaction: a sign-up creates the user and spends the invite atomically. */
export async function acceptInviteIn(tx: Tx, token: string, userId: string): Promise<AcceptedInvite> {
  const hash = await hashToken(token);
  const { rows: users } = await tx.query('SELECT disabled_at FROM users WHERE id = $1', [userId]);
  if (!users[0]) throw new HttpError(404, 'user_not_found', `no user ${userId}`);
  if (users[0].disabled_at) throw new HttpError(403, 'user_disabled', 'this user is disabled; an admin can enable it again');
  const { rows } = await tx.query(
    `UPDATE invites i SET accepted_by = $2, accepted_at = now() WHERE i.token_hash = $1 AND ${PENDING}
     RETURNING i.id, i.project_id, i.role, (SELECT slug FROM projects WHERE id = i.project_id) AS slug`,
    [hash, userId],
  );
  const invite = rows[0];
  if (!invite) throw inviteGone();
  // The CTE reads the membership as it was before this statement: the previous role, if any.
  const { rows: held } = await tx.query(
    `WITH prev AS (SELECT role FROM members WHERE project_id = $1 AND user_id = $2)
     INSERT INTO members (project_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (project_id, user_id) DO UPDATE SET role = CASE
       WHEN array_position(ARRAY['viewer', 'developer', 'owner'], EXCLUDED.role) > array_position(ARRAY['viewer', 'developer', 'owner'], members.role)
       THEN EXCLUDED.role ELSE members.role END
     RETURNING role, (SELECT role FROM prev) AS previous`,
    [invite.project_id, userId, invite.role],
  );
  const role = held[0].role as ProjectRole;
  const previousRole = (held[0].previous as ProjectRole | null) ?? null;
  const invitedAs = invite.role as ProjectRole;
  const changed = previousRole !== role;
  await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'invite.accepted', $3)`, [
    userId, invite.project_id, JSON.stringify({ inviteId: invite.id, role: invitedAs, previousRole, nowRole: role }),
  ]);
  const message = !previousRole
    ? `you are now ${role} of project ${invite.slug}`
    : changed
      ? `your role on project ${invite.slug} went from ${previousRole} to ${role}`
      : `you already were ${previousRole} of project ${invite.slug}${ROLE_RANK[previousRole] > ROLE_RANK[invitedAs] ? `, which is more than ${invitedAs}: you keep ${previousRole}` : ''}; the invite is used up`;
  return { project: invite.slug, role, invitedAs, previousRole, changed, message };
}
