-- The scheduler's capacity view holds the port of every task that is not finally stopped, whatever
-- its desired state (edge/scheduler/snapshot.ts, loadCapacity): a task stopped or lost while its
-- node was away may still run there when the node returns. This index serves that join without
-- scanning the stopped tasks every deployment leaves behind.
CREATE INDEX tasks_holding_ports ON tasks (node_id) WHERE desired_state = 'running' OR observed_state NOT IN ('stopped', 'lost');
