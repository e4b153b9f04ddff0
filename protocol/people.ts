/**
 * People and roles (issue 12, point 6): project invites, members and their roles, and the admin's
 * view of users. A role grants everything the roles below it do: viewers read; developers also
 * deploy, scale, roll back and change env and domains; owners also manage members and invites,
 * reveal secret values and delete.
 */
import { z } from 'zod';
import { generateToken } from './tokens.js';
import { newId } from './ids.js';

export const ROLES = ['viewer', 'developer', 'owner'] as const;
export type ProjectRole = (typeof ROLES)[number];

/** Higher outranks lower; used to keep the higher role when an invite meets an existing membership. */
export const ROLE_RANK: Record<ProjectRole, number> = { viewer: 1, developer: 2, owner: 3 };

const role = z.enum(ROLES, { error: 'expected a role: owner, developer or viewer' });

/** An invite's secret: `zi_` + 256 random bits. Only its SHA-256 (hashToken) is stored, as for API tokens. */
export function generateInviteToken(): string {
  return `zi_${generateToken('zt').slice(3)}`;
}

/** Invite ids share the 12-character alphabet of every other id, with their own prefix. */
export function newInviteId(): string {
  return `i${newId('k').slice(1)}`;
}

/** The dashboard page that shows and accepts an invite; relative, the caller knows its own origin. */
export const invitePath = (token: string) => `/invite/${token}`;

export const INVITE_DEFAULT_HOURS = 7 * 24;

export const CreateInvite = z.object({
  role,
  /** Lifetime in hours, from one minute to 30 days; default 7 days. */
  expiresInHours: z.number().min(1 / 60).max(30 * 24).optional(),
});
export type CreateInvite = z.infer<typeof CreateInvite>;

/** POST /api/v1/projects/:project/invites: the token is shown here and never again. */
export interface CreatedInvite {
  id: string;
  role: ProjectRole;
  expiresAt: string;
  token: string;
  /** Relative: `/invite/<token>`; the CLI prefixes its API URL. */
  url: string;
}

export type InviteState = 'pending' | 'accepted' | 'revoked' | 'expired';

/** GET /api/v1/projects/:project/invites: never the token. */
export interface InviteView {
  id: string;
  role: ProjectRole;
  state: InviteState;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string;
  acceptedBy: string | null;
  acceptedAt: string | null;
  revokedAt: string | null;
}

/** GET /api/v1/invites/:token (no sign-in needed): what the holder of the link is offered. */
export interface InvitePreview {
  project: string;
  role: ProjectRole;
  invitedBy: string | null;
  expiresAt: string;
}

/** POST /api/v1/invites/:token/accept. */
export interface AcceptedInvite {
  project: string;
  /** The role the user holds now. */
  role: ProjectRole;
  /** The role the invite offered. */
  invitedAs: ProjectRole;
  /** The role held before, or null for a new member. */
  previousRole: ProjectRole | null;
  /** False when the user already held this role or a higher one (the higher one is kept). */
  changed: boolean;
  message: string;
}

export interface MemberView {
  userId: string;
  name: string;
  role: ProjectRole;
  /** A disabled user keeps the membership row but cannot act. */
  disabled: boolean;
}

/** PUT /api/v1/projects/:project/members/:user. */
export interface MemberRoleChanged {
  member: MemberView;
  previousRole: ProjectRole;
  /** False when the member already held that role. */
  changed: boolean;
}

/** DELETE /api/v1/projects/:project/members/:user. */
export interface MemberRemoved {
  removed: MemberView;
}

export const SetMemberRole = z.object({ role });
export type SetMemberRole = z.infer<typeof SetMemberRole>;

/** GET /api/v1/users (admin). */
export interface UserView {
  id: string;
  name: string;
  isAdmin: boolean;
  createdAt: string;
  disabledAt: string | null;
  /** Projects the user is a member of, by name, with the role. */
  projects: { project: string; role: ProjectRole }[];
}

/** POST /api/v1/users/:user/disable. */
export interface DisabledUser {
  user: UserView;
  tokensRevoked: number;
  sessionsEnded: number;
  invitesRevoked: number;
}
