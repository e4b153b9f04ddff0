import type { DurableObjectNamespace, DurableObjectStub } from '../cf.js';

/** Node shards (NodeShard Durable Objects). Must match the expression of migration 009. */
export const SHARDS = 16;

/** The shard of a node: stable, from the last two characters of its id (as the `nodes.shard` column). */
export function shardOf(nodeId: string): number {
  const last = nodeId.charCodeAt(nodeId.length - 1);
  const before = nodeId.charCodeAt(Math.max(0, nodeId.length - 2));
  return (last * 31 + before) % SHARDS;
}

/** Ids by shard: idFromName hashes the name, on every heartbeat otherwise. */
const ids = new WeakMap<DurableObjectNamespace, ReturnType<DurableObjectNamespace['idFromName']>[]>();

export function shardStub(ns: DurableObjectNamespace, shard: number): DurableObjectStub {
  let known = ids.get(ns);
  if (!known) ids.set(ns, (known = []));
  return ns.get((known[shard] ??= ns.idFromName(`shard-${shard}`)));
}

/** A node registered: its shard starts its liveness clock (node-shard.ts) before any heartbeat. */
export async function announceNode(ns: DurableObjectNamespace, nodeId: string): Promise<void> {
  const shard = shardOf(nodeId);
  const res = await shardStub(ns, shard).fetch(`https://shard/registered?shard=${shard}&node=${encodeURIComponent(nodeId)}`, { method: 'POST' });
  await res.body?.cancel();
}

/** Groups node ids by shard. */
export function byShard<T extends { id: string }>(items: T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const shard = shardOf(item.id);
    groups.set(shard, [...(groups.get(shard) ?? []), item]);
  }
  return groups;
}

/** A node's desired state moved to `generation`; its shard must not answer "nothing new" below it. */
export interface GenerationBump {
  id: string;
  generation: number;
}

/**
 * Tells each shard the new generations of its nodes, so the next heartbeat of such a node reads its
 * desired state instead of being answered from memory. Best effort: a shard also re-reads its nodes'
 * generations on its alarm, every heartbeat interval.
 */
export async function notifyGenerations(ns: DurableObjectNamespace | undefined, bumps: GenerationBump[]): Promise<void> {
  if (!ns || !bumps.length) return;
  await Promise.all(
    [...byShard(bumps)].map(async ([shard, nodes]) => {
      try {
        const res = await shardStub(ns, shard).fetch('https://shard/generations', { method: 'POST', body: JSON.stringify({ nodes }) });
        await res.body?.cancel();
      } catch (err) {
        console.warn(`telling shard ${shard} of new generations failed (${(err as Error).message}); its alarm re-reads them`);
      }
    }),
  );
}
