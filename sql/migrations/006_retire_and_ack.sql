-- Epoch acknowledgement, continued (issue 4, point 7).
-- Tasks that leave routing one by one (scale down, node drain, planner surplus) stop the same way
-- whole deployments do (003): out of the route table at once, process stopped only after every live
-- proxy acknowledged the epoch that removed them (or the acknowledgement timeout passed).
ALTER TABLE tasks ADD COLUMN retire_epoch bigint;
ALTER TABLE tasks ADD COLUMN retire_requested_at timestamptz;
CREATE INDEX tasks_retiring ON tasks (retire_epoch) WHERE retire_epoch IS NOT NULL;

-- The route epoch of a deployment's cutover: once every live proxy reports it (proxies.epoch), the
-- deployment is what users get everywhere; `zectre deploy` waits for that before saying "live".
ALTER TABLE deployments ADD COLUMN live_epoch bigint;
