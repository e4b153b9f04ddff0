-- Epoch acknowledgement (issue 4): every node-proxy reports the route epoch it serves, so a cutover
-- can wait until every live proxy routes around the old tasks before they are stopped.
CREATE TABLE proxies (
  id            text PRIMARY KEY,
  epoch         bigint NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- A deployment leaving routing (superseded): its tasks keep running until every live proxy serves
-- retire_epoch (or retire_requested_at is too old); then they are stopped and retire_epoch is cleared.
ALTER TABLE deployments ADD COLUMN retire_epoch bigint;
ALTER TABLE deployments ADD COLUMN retire_requested_at timestamptz;
CREATE INDEX deployments_retiring ON deployments (retire_epoch) WHERE retire_epoch IS NOT NULL;
