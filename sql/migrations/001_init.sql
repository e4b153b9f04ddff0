-- Zectre schema, version 1. Every table the control plane and the proxy read.

CREATE TABLE users (
  id          text PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  is_admin    boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- API tokens: only a SHA-256 of the secret is stored (tokens are 256-bit random, so no slow hash is needed).
CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  user_id       text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          text NOT NULL,
  token_hash    text NOT NULL UNIQUE,
  scopes        text[] NOT NULL DEFAULT '{}',
  project_id    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE join_tokens (
  id          text PRIMARY KEY,
  token_hash  text NOT NULL UNIQUE,
  created_by  text REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  revoked_at  timestamptz
);

CREATE TABLE projects (
  id                  text PRIMARY KEY,
  slug                text NOT NULL UNIQUE,
  live_deployment_id  text,
  created_by          text REFERENCES users(id) ON DELETE SET NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
  project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('owner', 'developer', 'viewer')),
  PRIMARY KEY (project_id, user_id)
);

-- Values are AES-256-GCM ciphertext (iv || ciphertext, base64) under the Worker secret ENV_ENCRYPTION_KEY.
CREATE TABLE env_vars (
  project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  key         text NOT NULL,
  value_enc   text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, key)
);

CREATE TABLE artifacts (
  digest      text PRIMARY KEY,
  size        bigint NOT NULL,
  created_by  text REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A deployment is an immutable release: artifact + config snapshot (env snapshot encrypted).
CREATE TABLE deployments (
  id              text PRIMARY KEY,
  project_id      text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  artifact_digest text NOT NULL REFERENCES artifacts(digest),
  command         text NOT NULL,
  env_enc         text NOT NULL,
  replicas        integer NOT NULL,
  health_check    jsonb NOT NULL,
  resources       jsonb NOT NULL,
  kill_timeout_ms integer NOT NULL DEFAULT 10000,
  status          text NOT NULL CHECK (status IN ('pending', 'deploying', 'live', 'standby', 'superseded', 'failed')),
  status_reason   text,
  created_by      text REFERENCES users(id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  deadline_at     timestamptz NOT NULL,
  live_at         timestamptz
);
CREATE INDEX deployments_project ON deployments (project_id, created_at DESC);
ALTER TABLE projects ADD CONSTRAINT projects_live_fk FOREIGN KEY (live_deployment_id) REFERENCES deployments(id) ON DELETE SET NULL;

CREATE TABLE nodes (
  id                  text PRIMARY KEY,
  name                text NOT NULL,
  address             text NOT NULL,
  push_url            text,
  labels              jsonb NOT NULL DEFAULT '{}',
  cpu_millis          integer NOT NULL,
  memory_mb           integer NOT NULL,
  port_min            integer NOT NULL,
  port_max            integer NOT NULL,
  status              text NOT NULL CHECK (status IN ('ready', 'down')),
  credential_hash     text NOT NULL UNIQUE,
  generation          bigint NOT NULL DEFAULT 1,
  applied_generation  bigint NOT NULL DEFAULT 0,
  last_heartbeat_at   timestamptz NOT NULL DEFAULT now(),
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
  id              text PRIMARY KEY,
  deployment_id   text NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  node_id         text NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  port            integer NOT NULL,
  desired_state   text NOT NULL CHECK (desired_state IN ('running', 'stopped')),
  observed_state  text NOT NULL DEFAULT 'pending',
  restarts        integer NOT NULL DEFAULT 0,
  exit_code       integer,
  message         text,
  -- Highest seq such that every log line 1..seq of this task is stored.
  log_acked_seq   bigint NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_node ON tasks (node_id) WHERE desired_state = 'running';
CREATE INDEX tasks_deployment ON tasks (deployment_id);
-- One running task per port per node: the planner's port choice is enforced here too.
CREATE UNIQUE INDEX tasks_node_port ON tasks (node_id, port) WHERE desired_state = 'running';

-- (task_id, seq) is the primary key so that re-sent batches are idempotent; id orders lines for readers.
CREATE TABLE task_logs (
  task_id  text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  seq      bigint NOT NULL,
  id       bigserial NOT NULL,
  ts       timestamptz NOT NULL,
  stream   text NOT NULL,
  line     text NOT NULL,
  PRIMARY KEY (task_id, seq)
);
CREATE INDEX task_logs_id ON task_logs (id);

CREATE TABLE routes (
  id           text PRIMARY KEY,
  host         text NOT NULL,
  path_prefix  text NOT NULL DEFAULT '/',
  project_id   text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('app', 'preview', 'custom')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (host, path_prefix)
);

-- Bumped in the same transaction as any routing change, then NOTIFY zectre_routes with the new epoch.
CREATE TABLE route_epoch (
  id     boolean PRIMARY KEY DEFAULT true CHECK (id),
  epoch  bigint NOT NULL
);
INSERT INTO route_epoch (id, epoch) VALUES (true, 1);

CREATE TABLE events (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text,
  project_id  text,
  kind        text NOT NULL,
  data        jsonb NOT NULL DEFAULT '{}'
);
