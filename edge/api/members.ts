import type { IRequest } from 'itty-router';
import { SetMemberRole, type MemberRemoved, type MemberRoleChanged, type MemberView, type ProjectRole } from '../../protocol/index.js';
import { requireProject, requireUser, type ProjectRef } from '../auth.js';
import { transaction, type Tx } from '../db.js';
import type { Deps } from '../deps.js';
import { HttpError, json, readJson } from '../http.js';

const SELECT = `SELECT m.user_id, u.name, m.role, u.disabled_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1`;
const ORDER = `ORDER BY array_position(ARRAY['owner', 'developer', 'viewer'], m.role), u.name`;

const row = (r: Record<string, unknown>): MemberView => ({ userId: r.user_id as string, name: r.name as string, role: r.role as ProjectRole, disabled: !!r.disabled_at });

/** GET /api/v1/projects/:project/members (viewer): owners first, then by name. */
export async function listMembers(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'viewer');
  const { rows } = await deps.db().query(`${SELECT} ${ORDER}`, [project.id]);
  const members: MemberView[] = rows.map(row);
  return json({ members });
}

/**
 * Locks every membership of the project (a handful of rows) and finds `ref` (user id or name) among
 * them. Two owners demoting or removing each other at once then run one after the other, and the
 * second sees that it would leave no owner.
 */
async function lockMembers(tx: Tx, project: ProjectRef, ref: string): Promise<{ target: MemberView; others: MemberView[] }> {
  const { rows } = await tx.query(`${SELECT} ORDER BY m.user_id FOR UPDATE OF m`, [project.id]);
  const all = rows.map(row);
  const target = all.find((m) => m.userId === ref) ?? all.find((m) => m.name === ref);
  if (!target) {
    throw new HttpError(404, 'member_not_found', `${ref} is not a member of project ${project.slug}; to add someone, send an invite (zectre members invite)`);
  }
  return { target, others: all.filter((m) => m !== target) };
}

/** A project keeps at least one enabled owner: a disabled one cannot act for it. */
function keepAnOwner(project: ProjectRef, target: MemberView, others: MemberView[], what: string): void {
  if (target.role === 'owner' && !others.some((m) => m.role === 'owner' && !m.disabled)) {
    throw new HttpError(409, 'last_owner', `${target.name} is the last owner of project ${project.slug}; make someone else owner before you ${what}`);
  }
}

/** PUT /api/v1/projects/:project/members/:user {role} (owner). */
export async function setMemberRole(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const { role } = await readJson(request, SetMemberRole);
  const answer = await transaction(deps.db(), async (tx) => {
    const { target, others } = await lockMembers(tx, project, request.params.user!);
    if (target.role === role) return { member: target, previousRole: role, changed: false };
    if (role !== 'owner') keepAnOwner(project, target, others, `make ${target.name} ${role}`);
    await tx.query('UPDATE members SET role = $3 WHERE project_id = $1 AND user_id = $2', [project.id, target.userId, role]);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'member.role_changed', $3)`, [
      user.id, project.id, JSON.stringify({ userId: target.userId, user: target.name, from: target.role, to: role }),
    ]);
    return { member: { ...target, role }, previousRole: target.role, changed: true };
  });
  return json(answer satisfies MemberRoleChanged);
}

/** DELETE /api/v1/projects/:project/members/:user (owner): the user loses every access to the project. */
export async function removeMember(request: IRequest, deps: Deps): Promise<Response> {
  const user = await requireUser(request, deps);
  const project = await requireProject(deps, user, request.params.project!, 'owner');
  const removed = await transaction(deps.db(), async (tx) => {
    const { target, others } = await lockMembers(tx, project, request.params.user!);
    keepAnOwner(project, target, others, `remove ${target.name}`);
    await tx.query('DELETE FROM members WHERE project_id = $1 AND user_id = $2', [project.id, target.userId]);
    await tx.query(`INSERT INTO events (actor, project_id, kind, data) VALUES ($1, $2, 'member.removed', $3)`, [
      user.id, project.id, JSON.stringify({ userId: target.userId, user: target.name, role: target.role }),
    ]);
    return target;
  });
  return json({ removed } satisfies MemberRemoved);
}
