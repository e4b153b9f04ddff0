-- Dashboard sessions: an API token exchanged for an HttpOnly cookie. Only a SHA-256 of the random
-- session id is stored. A session acts as the token it came from (same user, same project scope),
-- so revoking or deleting the token ends its sessions too.
CREATE TABLE sessions (
  id_hash     text PRIMARY KEY,
  token_id    text NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
