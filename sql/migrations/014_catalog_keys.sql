-- The catalog's ES256 signing keys. One `current` key signs; one `next` key is already published
-- in the JWKS so that verifiers know it before a rotation makes it current; `retired` keys stay
-- published until every token they signed has expired. The private half is AES-256-GCM ciphertext
-- under ENV_ENCRYPTION_KEY.
CREATE TABLE catalog_keys (
  kid              text PRIMARY KEY,
  state            text NOT NULL CHECK (state IN ('next', 'current', 'retired')),
  public_jwk       jsonb NOT NULL,
  private_jwk_enc  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  activated_at     timestamptz,
  retired_at       timestamptz
);
CREATE UNIQUE INDEX catalog_keys_one_current ON catalog_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX catalog_keys_one_next ON catalog_keys (state) WHERE state = 'next';

-- A disabled user's tokens, sessions and JWTs stop working.
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at timestamptz;

-- Sessions made by a passkey sign-in belong to a user directly; sessions made from an API token
-- still act as that token (and end with it).
ALTER TABLE sessions ALTER COLUMN token_id DROP NOT NULL;
ALTER TABLE sessions ADD COLUMN user_id text REFERENCES users(id) ON DELETE CASCADE;
ALTER TABLE sessions ADD CONSTRAINT sessions_owner CHECK (token_id IS NOT NULL OR user_id IS NOT NULL);
CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL;
