import type { CapacityView } from './capacity.js';

/**
 * Feasibility and ranking of nodes for one deployment's new tasks (Nomad's feasible/rank split).
 * Feasible: CPU, memory and a free port in the node's range. Rank: fewer replicas of this deployment
 * on the node first (spread), then the lower load after placing (least allocated).
 *
 * Ranking every node per placement costs O(nodes): too slow for a fleet of 10,000. Like Nomad's
 * limit iterator, each placement ranks only the next few feasible nodes of a walk over the view and
 * takes the best of those; the walk's start and stride come from the deployment id, so different
 * deployments look in different places and the same input always walks the same way.
 */

/** Feasible nodes ranked per placement; more (log2 of the node count) on big clusters. */
const MIN_CANDIDATES = 4;
/** Primes; a stride coprime with the node count visits every node once per lap. */
const STRIDES = [7919, 104_729, 1_299_709, 15_485_863];

export interface Need {
  cpuMillis: number;
  memoryMb: number;
}

/** FNV-1a: a stable 32-bit hash of a string. */
export function hashId(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class NodeWalk {
  private pos: number;
  private readonly stride: number;
  private readonly limit: number;

  constructor(
    private readonly view: CapacityView,
    seed: number,
  ) {
    const n = view.size;
    this.pos = n ? seed % n : 0;
    let k = seed % STRIDES.length;
    while (n && n % STRIDES[k]! === 0) k = (k + 1) % STRIDES.length; // n is never a multiple of all four
    this.stride = n ? STRIDES[k]! % n : 0;
    this.limit = Math.max(MIN_CANDIDATES, Math.ceil(Math.log2(n || 1)));
  }

  /** The best of the next feasible nodes (its index in the view), or -1 when no node is feasible. */
  next(need: Need, spread: ReadonlyMap<string, number>): number {
    const { view } = this;
    const n = view.size;
    let best = -1;
    let bestSpread = Infinity;
    let bestLoad = Infinity;
    let found = 0;
    for (let visited = 0; visited < n && found < this.limit; visited++) {
      const i = this.pos;
      this.pos += this.stride;
      if (this.pos >= n) this.pos -= n;
      if (!view.fits(i, need.cpuMillis, need.memoryMb)) continue;
      found++;
      const s = spread.get(view.ids[i]!) ?? 0;
      if (s > bestSpread) continue;
      const load = view.loadAfter(i, need.cpuMillis, need.memoryMb);
      // Strictly better only: ties keep the node met first, so the choice is deterministic.
      if (s < bestSpread || load < bestLoad) {
        best = i;
        bestSpread = s;
        bestLoad = load;
      }
    }
    return best;
  }
}

/** Why nothing fits, for the deployment's status reason. Names the freest nodes only: a fleet cannot be listed. */
export function noRoomReason(view: CapacityView, need: Need): string {
  if (view.size === 0) return 'no ready node: start an agent with a join token';
  const shown = 3;
  const freest: number[] = [];
  const free = (i: number) => view.cpuTotal[i]! - view.cpuUsed[i]!;
  for (let i = 0; i < view.size; i++) {
    if (freest.length < shown || free(i) > free(freest[freest.length - 1]!)) {
      freest.push(i);
      freest.sort((a, b) => free(b) - free(a) || a - b);
      if (freest.length > shown) freest.pop();
    }
  }
  const listed = freest.map((i) => {
    const ports = view.ports[i]!.free > 0 ? '' : ', no free port';
    return `${view.ids[i]}: ${free(i)}m CPU, ${view.memTotal[i]! - view.memUsed[i]!} MB free${ports}`;
  });
  if (view.size > shown) listed.push(`${view.size - shown} more node(s)`);
  return `no node has room for ${need.cpuMillis}m CPU and ${need.memoryMb} MB (${listed.join('; ')})`;
}
