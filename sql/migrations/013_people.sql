-- People and roles (issue 12): one-time invites to a project, and users an admin can disable.

-- An invite grants `role` on a project to whoever accepts it first. Only a SHA-256 of the
-- 256-bit secret is stored, as for api_tokens. Accepting sets accepted_* in one conditional
-- UPDATE (WHERE accepted_at IS NULL ...), so a link works once even under concurrent accepts.
CREATE TABLE invites (
  id           text PRIMARY KEY,
  project_id   text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  role         text NOT NULL CHECK (role IN ('owner', 'developer', 'viewer')),
  token_hash   text NOT NULL UNIQUE,
  created_by   text REFERENCES users(id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL DEFAULT now() + interval '7 days',
  accepted_by  text REFERENCES users(id) ON DELETE SET NULL,
  accepted_at  timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX invites_project ON invites (project_id, created_at DESC);

-- A disabled user keeps its rows (memberships, the names in the audit trail) but cannot act:
-- disabling revokes its API tokens (which ends their sessions) in the same transaction, and the
-- catalog refuses to issue or honour tokens for a user with disabled_at set.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
