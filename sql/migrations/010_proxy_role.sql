-- Issue 11.3: least privilege for proxies. A proxy on a VM reads only what routing needs (the
-- `routing` views below) and writes only its own row of `proxies`; it cannot read env, tokens,
-- deployments' env or anything else. Each VM's proxy logs in as a role of its own that is a member
-- of zectre_proxy (`npm run proxy-role -- NAME` creates one and prints its DATABASE_URL).

-- Roles belong to the cluster, not the database: several databases (tests) may race to create it.
DO $$ BEGIN
  CREATE ROLE zectre_proxy NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE SCHEMA routing;

-- The one definition of a routable task: the proxies, the scheduler's bookkeeping and the benches
-- read it here. A task serves when it should run, answers its health check, is not being retired
-- and belongs to a release that has not been superseded. Its node's status does not matter: a node
-- whose agent went silent keeps its tasks in routing until the scheduler has healthy replacements
-- and marks them lost (issue 14.4; the proxies eject backends that stop answering on their own).
CREATE VIEW routing.routable_tasks AS
  SELECT t.id, p.slug, p.live_deployment_id, t.deployment_id, t.node_id, n.address, t.port
  FROM tasks t
  JOIN deployments d ON d.id = t.deployment_id
  JOIN projects p ON p.id = d.project_id
  JOIN nodes n ON n.id = t.node_id
  WHERE t.desired_state = 'running' AND t.observed_state = 'healthy'
    AND t.retire_epoch IS NULL AND d.status <> 'superseded';

CREATE VIEW routing.projects AS SELECT slug, live_deployment_id FROM projects;
CREATE VIEW routing.deployments AS SELECT d.id, p.slug FROM deployments d JOIN projects p ON p.id = d.project_id;
CREATE VIEW routing.custom_routes AS
  SELECT r.host, r.path_prefix, p.live_deployment_id FROM routes r JOIN projects p ON p.id = r.project_id;
CREATE VIEW routing.epoch AS SELECT epoch FROM route_epoch;

-- Views run with their owner's rights, so the role needs only SELECT on them, nothing beneath.
GRANT USAGE ON SCHEMA routing TO zectre_proxy;
GRANT SELECT ON ALL TABLES IN SCHEMA routing TO zectre_proxy;

-- A proxy's row names the role that wrote it; row-level security keeps each proxy role to its own
-- rows (the control plane owns the table and is not bound by the policy).
ALTER TABLE proxies ADD COLUMN db_role text NOT NULL DEFAULT current_user;
ALTER TABLE proxies ENABLE ROW LEVEL SECURITY;
CREATE POLICY proxies_own_rows ON proxies TO zectre_proxy
  USING (db_role = current_user) WITH CHECK (db_role = current_user);
GRANT SELECT, INSERT, UPDATE, DELETE ON proxies TO zectre_proxy;
