-- Tasks that leave routing one by one (scale down, node drain, planner surplus) stop the same way
-- whole deployments do (003): out of the route table at once, process stopped only after every live
-- proxy acknowledged the epoch that removed them (or the acknowledgement timeout passed).
ALTER TABLE tasks ADD COLUMN retire_epoch bigint;
ALTER TABLE tasks ADD COLUMN retire_requested_at timestamptz;
CREATE INDEX tasks_retiring ON tasks (retire_epoch) WHERE retire_epoch IS NOT NULL;
