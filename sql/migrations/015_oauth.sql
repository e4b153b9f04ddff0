-- The catalog's OAuth state (edge/catalog/): device authorization requests (RFC 8628) and refresh
-- token families. Every secret (device code, refresh token) is stored as its SHA-256 only.

-- One row per `zectre login`: pending until a signed-in person approves or denies it by its user
-- code, then `used` once the device exchanged it for tokens. Expired rows are deleted lazily.
CREATE TABLE oauth_device_codes (
  id                text PRIMARY KEY,
  device_code_hash  text NOT NULL UNIQUE,
  user_code         text NOT NULL UNIQUE,
  client_id         text NOT NULL,
  client_name       text,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  user_id           text REFERENCES users(id) ON DELETE CASCADE,
  interval_s        integer NOT NULL DEFAULT 5,
  last_polled_at    timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  decided_at        timestamptz
);
CREATE INDEX oauth_device_codes_expiry ON oauth_device_codes (expires_at);

-- A family is one sign-in: every refresh token rotated from the first one belongs to it, and the
-- access tokens it issued carry its id as `sid`. Revoking the family (sign-out, or a refresh token
-- presented twice) ends all of them; the API checks `revoked_at` by primary key on every request.
CREATE TABLE oauth_refresh_families (
  id              text PRIMARY KEY,
  user_id         text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id       text NOT NULL,
  client_name     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_reason  text
);
CREATE INDEX oauth_refresh_families_user ON oauth_refresh_families (user_id);

-- Used tokens are kept until they expire: presenting one again is how a stolen token is noticed.
CREATE TABLE oauth_refresh_tokens (
  token_hash  text PRIMARY KEY,
  family_id   text NOT NULL REFERENCES oauth_refresh_families(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family_id);
