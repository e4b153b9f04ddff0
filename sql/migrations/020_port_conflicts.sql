-- A task whose port another process holds on its node (issue 14): the agent reports it failed with
-- observed_code 'port_in_use' and the scheduler replaces it on another port. The node's agent also
-- reports the ports it recently found held by others (at most 32, protocol MAX_FOREIGN_PORTS); the
-- capacity view assigns none of them (edge/scheduler/snapshot.ts, loadCapacity).
ALTER TABLE tasks ADD COLUMN observed_code text;
ALTER TABLE nodes ADD COLUMN foreign_ports int[] NOT NULL DEFAULT '{}';
