import type { ObservedTask } from '../../protocol/index.js';

/** What a node shard remembers of one node between heartbeats. */
export interface NodeEntry {
  id: string;
  credentialHash: string;
  /** The highest generation known for the node (read from the database or told by the scheduler). */
  generation: number;
  /** What the database holds from this node's last written heartbeat; null: not written by this instance yet. */
  applied: number | null;
  signature: string | null;
  pushUrl: string | null | undefined;
  status: 'ready' | 'down';
  lastSeen: number;
  /** Declared lost when silent past this (ready nodes only). */
  deadline: number;
  /** lastSeen as last written to nodes.last_heartbeat_at. */
  flushedSeen: number;
  /** CPU and RSS of the last report, written with the periodic flush; null once written. */
  metrics: ObservedTask[] | null;
}

export interface LivenessTimes {
  /** Silence after which a node is lost: two intervals and a margin (one missed heartbeat is not a loss). */
  lostAfterMs: number;
  /** After a cold start or a database outage every node gets this long before it can be lost. */
  graceMs: number;
}

/**
 * An agent whose heartbeats failed during an outage waits out its backoff before it tries again:
 * up to 30 s (node-agent/heartbeat-loop.ts). The grace covers that, so an outage of the control
 * plane never counts against a node that is fine.
 */
export const AGENT_MAX_BACKOFF_MS = 30_000;

/**
 * Never less than this: with a short interval (tests, 1 s) an agent restart or a busy machine must
 * not look like a lost node. The 5 s default gives 12 s (2 intervals + 2 s) anyway.
 */
export const MIN_LOST_AFTER_MS = 10_000;

export function livenessTimes(intervalMs: number): LivenessTimes {
  return {
    lostAfterMs: Math.max(MIN_LOST_AFTER_MS, 2 * intervalMs + Math.min(2_000, intervalMs)),
    graceMs: Math.max(3 * intervalMs, AGENT_MAX_BACKOFF_MS),
  };
}

/**
 * The nodes of one shard in memory, with their liveness deadlines. Pure: the caller passes the clock.
 * Steady heartbeats are answered from here; the database is written only when something changed.
 */
export class NodeTable {
  private readonly nodes = new Map<string, NodeEntry>();

  constructor(readonly times: LivenessTimes) {}

  get(id: string): NodeEntry | undefined {
    return this.nodes.get(id);
  }

  get size(): number {
    return this.nodes.size;
  }

  all(): IterableIterator<NodeEntry> {
    return this.nodes.values();
  }

  /**
   * A node as the database has it, new to this instance. Loaded cold (`grace`), it starts with a
   * grace period, not with its old last heartbeat; loaded by its own heartbeat into a warm table (a
   * node that just registered), with the usual deadline.
   */
  add(row: { id: string; credentialHash: string; generation: number; status: 'ready' | 'down' }, now: number, grace = true): NodeEntry {
    const existing = this.nodes.get(row.id);
    if (existing) return existing;
    const deadline = now + (grace ? this.times.graceMs : this.times.lostAfterMs);
    const entry: NodeEntry = { ...row, applied: null, signature: null, pushUrl: undefined, lastSeen: 0, deadline, flushedSeen: 0, metrics: null };
    this.nodes.set(row.id, entry);
    return entry;
  }

  seen(node: NodeEntry, now: number): void {
    node.lastSeen = now;
    node.deadline = Math.max(node.deadline, now + this.times.lostAfterMs);
  }

  /** Generations only grow: a late answer from a slower read must not lower what the scheduler told. */
  raiseGeneration(id: string, generation: number): void {
    const node = this.nodes.get(id);
    if (node && generation > node.generation) node.generation = generation;
  }

  /** Every node gets a fresh grace period (the shard could not hear them, or not write what it heard). */
  graceAll(now: number): void {
    for (const node of this.nodes.values()) node.deadline = Math.max(node.deadline, now + this.times.graceMs);
  }

  /** Ready nodes silent past their deadline. */
  expired(now: number): NodeEntry[] {
    return [...this.nodes.values()].filter((n) => n.status === 'ready' && n.deadline <= now);
  }

  /** The earliest deadline of a ready node, or Infinity. */
  nextDeadline(): number {
    let next = Infinity;
    for (const n of this.nodes.values()) if (n.status === 'ready' && n.deadline < next) next = n.deadline;
    return next;
  }
}

/** What of a report counts as news: task states, restarts, exits and the ports held by others, not CPU and memory figures. */
export function reportSignature(tasks: readonly ObservedTask[], foreignPorts?: readonly number[]): string {
  const report = tasks
    .map((t) => `${t.id}\t${t.state}\t${t.restarts}\t${t.exitCode ?? ''}\t${t.message ?? ''}\t${t.code ?? ''}`)
    .sort()
    .join('\n');
  return foreignPorts === undefined ? report : `${report}\nforeign ports\t${[...foreignPorts].sort((a, b) => a - b).join(',')}`;
}
