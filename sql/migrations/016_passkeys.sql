-- Passwordless sign-in (issue 12, points 3 and 4): passkeys, one-time recovery codes, the one-time
-- setup link that creates the first admin, and WebAuthn challenges (the Worker keeps no state
-- between the two halves of a ceremony, so the challenge waits here until it is answered).

-- A WebAuthn credential. `id` is the credential id (base64url); `public_key` is its COSE key
-- (base64url). `counter` is the last signature counter seen: a counter that does not move forward
-- means a cloned authenticator, and the sign-in is refused.
CREATE TABLE passkeys (
  id            text PRIMARY KEY,
  user_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  public_key    text NOT NULL,
  counter       bigint NOT NULL DEFAULT 0,
  transports    text[] NOT NULL DEFAULT '{}',
  device_type   text NOT NULL DEFAULT 'singleDevice',
  backed_up     boolean NOT NULL DEFAULT false,
  name          text NOT NULL DEFAULT 'passkey',
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- Recovery codes: 80 random bits each, shown once at enrolment; only SHA-256(user id, code) is
-- stored. A code works once (used_at is set by a conditional UPDATE).
CREATE TABLE recovery_codes (
  code_hash   text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Setup links (`npm start`, `npm run setup`): a one-time token that lets whoever holds it enrol the
-- first admin's passkey. It works only while no admin has a passkey, and once.
CREATE TABLE setup_tokens (
  token_hash  text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  used_by     text REFERENCES users(id) ON DELETE SET NULL
);

-- A ceremony in progress: the challenge we sent and what answering it will do. Deleted when
-- answered (one-time) or once expired.
CREATE TABLE webauthn_challenges (
  id          text PRIMARY KEY,
  challenge   text NOT NULL,
  ceremony    text NOT NULL CHECK (ceremony IN ('setup', 'invite', 'add', 'signin')),
  -- The user the new passkey is for (an id not yet in users for setup and invite).
  user_id     text,
  user_name   text,
  -- SHA-256 of the setup or invite token the ceremony spends when it completes.
  token_hash  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
