import type { Tx } from '../db.js';
import type { Snapshot } from './planner.js';

/** Reads the planner's input; call inside the scheduler lock so the plan applies to what was read. */
export async function loadSnapshot(tx: Tx): Promise<Snapshot> {
  const nodes = await tx.query(
    `SELECT id, cpu_millis, memory_mb, port_min, port_max FROM nodes WHERE status = 'ready'`,
  );
  const tasks = await tx.query(
    `SELECT t.id, t.deployment_id, t.node_id, t.port, t.retire_epoch IS NOT NULL AS retiring, d.resources FROM tasks t
     JOIN deployments d ON d.id = t.deployment_id WHERE t.desired_state = 'running'`,
  );
  const deployments = await tx.query(
    `SELECT id, replicas, resources FROM deployments
     WHERE status IN ('pending', 'deploying', 'live', 'standby') ORDER BY created_at, id`,
  );
  return {
    nodes: nodes.rows.map((n) => ({
      id: n.id,
      cpuMillis: n.cpu_millis,
      memoryMb: n.memory_mb,
      portMin: n.port_min,
      portMax: n.port_max,
    })),
    tasks: tasks.rows.map((t) => ({
      id: t.id,
      deploymentId: t.deployment_id,
      nodeId: t.node_id,
      port: t.port,
      cpuMillis: t.resources.cpuMillis,
      memoryMb: t.resources.memoryMb,
      retiring: t.retiring,
    })),
    deployments: deployments.rows.map((d) => ({
      id: d.id,
      replicas: d.replicas,
      cpuMillis: d.resources.cpuMillis,
      memoryMb: d.resources.memoryMb,
    })),
  };
}
