-- Issue 9: artifacts belong to projects; join tokens expire and may be single-use.

-- A project owns an artifact once it uploaded those bytes (uploading identical bytes from another
-- project adds that project: having the bytes is proof enough). Tokens see, deploy and download only
-- their projects' artifacts.
CREATE TABLE artifact_owners (
  project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  digest      text NOT NULL REFERENCES artifacts(digest),
  created_by  text REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, digest)
);
CREATE INDEX artifact_owners_digest ON artifact_owners (digest);

-- Existing artifacts belong to every project that deployed them (by whoever uploaded them).
INSERT INTO artifact_owners (project_id, digest, created_by)
SELECT DISTINCT d.project_id, d.artifact_digest, a.created_by
FROM deployments d JOIN artifacts a ON a.digest = d.artifact_digest
ON CONFLICT DO NOTHING;

-- Join tokens: every one expires (the local stack's bootstrap token used to live forever); a
-- single-use one registers one node. used_at is when it last registered a node.
UPDATE join_tokens SET expires_at = now() + interval '1 day' WHERE expires_at IS NULL;
ALTER TABLE join_tokens ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE join_tokens ADD COLUMN single_use boolean NOT NULL DEFAULT false;
ALTER TABLE join_tokens ADD COLUMN used_at timestamptz;
