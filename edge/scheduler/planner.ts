/**
 * The planner: a pure function from a snapshot of cluster state to a plan. No I/O, no clock, no
 * randomness: the same snapshot always gives the same plan. Applying the plan is apply-plan.ts's job.
 * Steps: for each deployment short of replicas, filter feasible nodes (capacity and a free port),
 * score them (spread the deployment's replicas, then least allocated), place on the best.
 */
export interface NodeState {
  id: string;
  cpuMillis: number;
  memoryMb: number;
  portMin: number;
  portMax: number;
}

export interface TaskState {
  id: string;
  deploymentId: string;
  nodeId: string;
  port: number;
  cpuMillis: number;
  memoryMb: number;
  /** Out of routing and waiting for its stop: holds capacity and its port, counts for no replica. */
  retiring?: boolean;
}

export interface DeploymentState {
  id: string;
  replicas: number;
  cpuMillis: number;
  memoryMb: number;
}

export interface Snapshot {
  nodes: NodeState[];
  /** Tasks desired running, on any node. */
  tasks: TaskState[];
  /** Deployments that should have `replicas` running tasks, in priority order. */
  deployments: DeploymentState[];
}

export interface Placement {
  deploymentId: string;
  nodeId: string;
  port: number;
}

export interface Plan {
  place: Placement[];
  /** Tasks beyond a deployment's replica count (scale down). */
  stop: string[];
  /** Deployments that could not get all their replicas, and why. */
  unplaced: { deploymentId: string; missing: number; reason: string }[];
}

interface NodeUse {
  node: NodeState;
  cpu: number;
  mem: number;
  ports: Set<number>;
  perDeployment: Map<string, number>;
}

export function plan(snapshot: Snapshot): Plan {
  const nodes = [...snapshot.nodes].sort((a, b) => a.id.localeCompare(b.id));
  const use = new Map<string, NodeUse>(
    nodes.map((n) => [n.id, { node: n, cpu: 0, mem: 0, ports: new Set(), perDeployment: new Map() }]),
  );
  const running = new Map<string, TaskState[]>();
  for (const t of snapshot.tasks) {
    const u = use.get(t.nodeId);
    if (u) account(u, t.deploymentId, t.port, t.cpuMillis, t.memoryMb);
    if (!t.retiring) running.set(t.deploymentId, [...(running.get(t.deploymentId) ?? []), t]);
  }

  const result: Plan = { place: [], stop: [], unplaced: [] };
  for (const d of snapshot.deployments) {
    const have = running.get(d.id) ?? [];
    if (have.length > d.replicas) {
      const sorted = [...have].sort((a, b) => b.id.localeCompare(a.id));
      result.stop.push(...sorted.slice(0, have.length - d.replicas).map((t) => t.id));
      continue;
    }
    for (let missing = d.replicas - have.length; missing > 0; missing--) {
      const best = bestNode([...use.values()], d);
      if (!best) {
        result.unplaced.push({ deploymentId: d.id, missing, reason: whyNoNode([...use.values()], d) });
        break;
      }
      const port = freePort(best);
      account(best, d.id, port, d.cpuMillis, d.memoryMb);
      result.place.push({ deploymentId: d.id, nodeId: best.node.id, port });
    }
  }
  return result;
}

function account(u: NodeUse, deploymentId: string, port: number, cpu: number, mem: number): void {
  u.cpu += cpu;
  u.mem += mem;
  u.ports.add(port);
  u.perDeployment.set(deploymentId, (u.perDeployment.get(deploymentId) ?? 0) + 1);
}

function feasible(u: NodeUse, d: DeploymentState): boolean {
  return (
    u.cpu + d.cpuMillis <= u.node.cpuMillis &&
    u.mem + d.memoryMb <= u.node.memoryMb &&
    u.ports.size < u.node.portMax - u.node.portMin + 1
  );
}

/** Lower is better: first fewer replicas of this deployment (spread), then the less loaded node. */
function score(u: NodeUse, d: DeploymentState): [number, number] {
  const load = Math.max((u.cpu + d.cpuMillis) / u.node.cpuMillis, (u.mem + d.memoryMb) / u.node.memoryMb);
  return [u.perDeployment.get(d.id) ?? 0, load];
}

function bestNode(candidates: NodeUse[], d: DeploymentState): NodeUse | undefined {
  let best: NodeUse | undefined;
  let bestScore: [number, number] = [Infinity, Infinity];
  for (const u of candidates) {
    if (!feasible(u, d)) continue;
    const s = score(u, d);
    // Strictly better only: ties keep the earlier node in id order, so the plan is deterministic.
    if (s[0] < bestScore[0] || (s[0] === bestScore[0] && s[1] < bestScore[1])) {
      best = u;
      bestScore = s;
    }
  }
  return best;
}

function freePort(u: NodeUse): number {
  for (let p = u.node.portMin; p <= u.node.portMax; p++) if (!u.ports.has(p)) return p;
  throw new Error(`node ${u.node.id} has no free port`); // feasible() rules this out
}

function whyNoNode(candidates: NodeUse[], d: DeploymentState): string {
  if (candidates.length === 0) return 'no ready node: start an agent with a join token';
  const need = `${d.cpuMillis}m CPU and ${d.memoryMb} MB`;
  const most = candidates.map((u) => `${u.node.id}: ${u.node.cpuMillis - u.cpu}m CPU, ${u.node.memoryMb - u.mem} MB free`);
  return `no node has room for ${need} (${most.join('; ')})`;
}
