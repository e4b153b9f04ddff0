import { PortPool } from './ports.js';

export interface NodeCapacity {
  id: string;
  cpuMillis: number;
  memoryMb: number;
  portMin: number;
  portMax: number;
}

/** What a running task holds on its node. */
export interface TaskUse {
  nodeId: string;
  port: number;
  cpuMillis: number;
  memoryMb: number;
}

/**
 * What is free on every node that takes new tasks (ready and not draining). Built once per
 * evaluation batch from those nodes and every running task (retiring ones too: they hold their port
 * and capacity until they stop); placements and stops update it, so projects evaluated one after
 * another in a batch see each other's placements. Nodes are ordered by id whatever the input order,
 * so the same state always gives the same view. Arrays rather than objects per node: a pass over
 * 10,000 nodes stays in a few cache-friendly arrays.
 */
export class CapacityView {
  readonly ids: string[];
  readonly cpuTotal: number[];
  readonly memTotal: number[];
  readonly cpuUsed: number[];
  readonly memUsed: number[];
  readonly ports: PortPool[];
  /** Per node, ports held by processes that are not our tasks: taken, and never freed by a task's release. */
  private readonly blocked: (Set<number> | undefined)[];
  private readonly index = new Map<string, number>();

  constructor(nodes: readonly NodeCapacity[], tasks: Iterable<TaskUse> = []) {
    const byId = (a: NodeCapacity, b: NodeCapacity) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const sorted = nodes.every((n, i) => i === 0 || byId(nodes[i - 1]!, n) < 0) ? nodes : [...nodes].sort(byId);
    this.ids = sorted.map((n) => n.id);
    this.cpuTotal = sorted.map((n) => n.cpuMillis);
    this.memTotal = sorted.map((n) => n.memoryMb);
    this.cpuUsed = sorted.map(() => 0);
    this.memUsed = sorted.map(() => 0);
    this.ports = sorted.map((n) => new PortPool(n.portMin, n.portMax));
    this.blocked = sorted.map(() => undefined);
    sorted.forEach((n, i) => this.index.set(n.id, i));
    for (const t of tasks) this.hold(t);
  }

  get size(): number {
    return this.ids.length;
  }

  /** The node's position in the view, or -1 when it takes no new tasks (draining, down, unknown). */
  indexOf(nodeId: string): number {
    return this.index.get(nodeId) ?? -1;
  }

  /** A running task's share, on a node of the view (tasks on other nodes hold nothing here). */
  hold(t: TaskUse): void {
    const i = this.indexOf(t.nodeId);
    if (i < 0) return;
    this.cpuUsed[i]! += t.cpuMillis;
    this.memUsed[i]! += t.memoryMb;
    this.ports[i]!.take(t.port);
  }

  /** Several running tasks of one node at once, as the database sums them. */
  holdMany(nodeId: string, cpuMillis: number, memoryMb: number, ports: Iterable<number>): void {
    const i = this.indexOf(nodeId);
    if (i < 0) return;
    this.cpuUsed[i]! += cpuMillis;
    this.memUsed[i]! += memoryMb;
    for (const p of ports) this.ports[i]!.take(p);
  }

  /**
   * Ports another process holds on the node (a foreign listener, a leftover): no task gets them, and
   * a task that stops there (the one that found its port taken) does not hand its port on.
   */
  block(nodeId: string, ports: Iterable<number>): void {
    const i = this.indexOf(nodeId);
    if (i < 0) return;
    for (const p of ports) {
      this.ports[i]!.take(p);
      (this.blocked[i] ??= new Set()).add(p);
    }
  }

  isBlocked(nodeId: string, port: number): boolean {
    const i = this.indexOf(nodeId);
    return i >= 0 && this.blocked[i]?.has(port) === true;
  }

  release(t: TaskUse): void {
    const i = this.indexOf(t.nodeId);
    if (i < 0 || !this.ports[i]!.has(t.port)) return;
    this.cpuUsed[i]! -= t.cpuMillis;
    this.memUsed[i]! -= t.memoryMb;
    if (!this.blocked[i]?.has(t.port)) this.ports[i]!.release(t.port);
  }

  fits(i: number, cpuMillis: number, memoryMb: number): boolean {
    return (
      this.cpuUsed[i]! + cpuMillis <= this.cpuTotal[i]! &&
      this.memUsed[i]! + memoryMb <= this.memTotal[i]! &&
      this.ports[i]!.free > 0
    );
  }

  /** The node's fuller dimension (CPU or memory) after adding this much, 0..1. */
  loadAfter(i: number, cpuMillis: number, memoryMb: number): number {
    return Math.max((this.cpuUsed[i]! + cpuMillis) / this.cpuTotal[i]!, (this.memUsed[i]! + memoryMb) / this.memTotal[i]!);
  }

  /** Holds the capacity on node `i` (the caller checked `fits`) and returns the port it got. */
  allocate(i: number, cpuMillis: number, memoryMb: number): number {
    const port = this.ports[i]!.allocate();
    if (port === undefined) throw new Error(`node ${this.ids[i]} has no free port`); // fits() rules this out
    this.cpuUsed[i]! += cpuMillis;
    this.memUsed[i]! += memoryMb;
    return port;
  }
}
