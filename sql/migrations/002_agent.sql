-- Agent (issue 3): a deployment's restart policy, and per-task CPU and RSS as last reported.
ALTER TABLE deployments ADD COLUMN restart_policy text NOT NULL DEFAULT 'always'
  CHECK (restart_policy IN ('always', 'on-failure', 'never'));
ALTER TABLE tasks ADD COLUMN cpu_millis integer;
ALTER TABLE tasks ADD COLUMN rss_bytes bigint;
