-- Operating apps from the terminal and the browser (issue 5).

-- Draining is a flag beside `status`, not a status value: proxies route only to tasks on nodes
-- whose status is 'ready', and a draining node's tasks must keep serving until their
-- replacements are healthy. The scheduler places nothing new on a node with draining_since set.
ALTER TABLE nodes ADD COLUMN draining_since timestamptz;

-- Activity feeds read a project's newest events first.
CREATE INDEX events_project ON events (project_id, id DESC);
