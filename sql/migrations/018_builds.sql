-- Builds (issue 13): a source artifact built on a node labelled `builder` into a runnable artifact.
CREATE TABLE builds (
  id              text PRIMARY KEY,
  project_id      text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  status          text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out')),
  step            text,
  node_id         text REFERENCES nodes(id) ON DELETE SET NULL,
  source_digest   text NOT NULL,
  artifact_digest text,
  cache_key       text,
  cache           text CHECK (cache IN ('hit', 'miss')),
  deploy          boolean NOT NULL,
  config          jsonb NOT NULL DEFAULT '{}',
  plan            jsonb,
  deployment_id   text REFERENCES deployments(id) ON DELETE SET NULL,
  error           text,
  created_by      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  -- Renewed by every report of the builder; a running build whose lease lapsed lost its builder.
  lease_at        timestamptz,
  -- Highest log seq stored; lines are numbered 1.. by the builder.
  log_seq         bigint NOT NULL DEFAULT 0
);
CREATE INDEX builds_project ON builds (project_id, created_at DESC);
-- The claim's scan: queued builds oldest first.
CREATE INDEX builds_queued ON builds (created_at) WHERE status = 'queued';
-- One running build per builder node (one at a time by default).
CREATE UNIQUE INDEX builds_one_per_node ON builds (node_id) WHERE status = 'running';

-- Build output, bounded per build (BUILD_LOG_MAX_LINES in protocol/builds.ts: the oldest lines go).
CREATE TABLE build_logs (
  build_id  text NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
  seq       bigint NOT NULL,
  at        timestamptz NOT NULL,
  stream    text NOT NULL,
  line      text NOT NULL,
  PRIMARY KEY (build_id, seq)
);

-- The package manager's download cache of a project, per cache key, as a blob in the registry.
CREATE TABLE build_caches (
  project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  cache_key   text NOT NULL,
  digest      text NOT NULL,
  size        bigint NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, cache_key)
);
