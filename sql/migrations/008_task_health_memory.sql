-- What the scheduler needs to remember about a task beyond its last report (issue 10): whether it
-- was ever healthy, and its last exit. The agent clears `exit_code` and `message` when it restarts
-- a task, so a crash-looping task that is reported while starting again would otherwise have lost
-- the exit that a failure reason must show. A crash loop (restarts without ever being healthy)
-- fails a deploying deployment at once instead of at its deadline.
-- Kept by a trigger so that every writer of observed state (the heartbeat today, a node shard
-- later) records it without having to know.
ALTER TABLE tasks ADD COLUMN ever_healthy boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN last_exit_code integer;
ALTER TABLE tasks ADD COLUMN last_exit_message text;
UPDATE tasks SET ever_healthy = true WHERE observed_state = 'healthy';
UPDATE tasks SET last_exit_code = exit_code, last_exit_message = message WHERE exit_code IS NOT NULL;

CREATE FUNCTION tasks_remember_health() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.observed_state = 'healthy' THEN
    NEW.ever_healthy := true;
  END IF;
  IF NEW.exit_code IS NOT NULL THEN
    NEW.last_exit_code := NEW.exit_code;
    NEW.last_exit_message := NEW.message;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER tasks_remember_health BEFORE INSERT OR UPDATE OF observed_state, exit_code, message ON tasks
  FOR EACH ROW EXECUTE FUNCTION tasks_remember_health();
