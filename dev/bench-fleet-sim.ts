/** N simulated nodes in this process: one shared HTTP pool, one push server, heartbeats spread over the interval. */
import { Backoff } from '../node-agent/backoff.js';
import { ApiClient, ApiError } from './bench-fleet-http.js';
import { SimNode } from './bench-fleet-node.js';
import { startPushServer, type PushServer } from './bench-fleet-push.js';
import { HeartbeatStats } from './bench-fleet-stats.js';

/** Registrations in flight at once (a fleet being installed, not a thundering herd). */
const REGISTER_CONCURRENCY = 16;

export class SimFleet {
  readonly stats = new HeartbeatStats();
  readonly api: ApiClient;
  readonly nodes: SimNode[];
  private readonly byId = new Map<string, SimNode>();
  private push: PushServer | undefined;
  private crashTimer: NodeJS.Timeout | undefined;

  constructor(apiUrl: string, size: number, private readonly withPush: boolean) {
    // One connection per node at most, as N machines would have (plus a few for the bench's API calls).
    this.api = new ApiClient(apiUrl, size + 16);
    const ctx = { api: this.api, stats: this.stats, pushUrl: (id: string) => (this.push ? this.push.urlFor(id) : null) };
    this.nodes = Array.from({ length: size }, (_, i) => new SimNode(`sim-${i + 1}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, ctx));
  }

  get pushCounts(): { applied: number; refused: number } {
    return this.push?.counts ?? { applied: 0, refused: 0 };
  }

  /**
   * Registers every node (retrying failures with the agent's backoff until `deadline`), each starting
   * its heartbeats at a random phase of the interval once registered, as an agent does; returns how
   * many registered. Nodes that did not are left out of the run.
   */
  async register(joinToken: string, intervalMs: number, deadline: number): Promise<number> {
    if (this.withPush) this.push = await startPushServer((id) => this.byId.get(id));
    let next = 0;
    const worker = async () => {
      while (next < this.nodes.length) {
        const node = this.nodes[next++]!;
        const backoff = new Backoff(500, 30_000, true);
        while (Date.now() < deadline) {
          try {
            await node.register(joinToken);
            this.byId.set(node.nodeId, node);
            node.start(Math.random() * intervalMs);
            break;
          } catch (err) {
            const e = err as ApiError;
            this.stats.requestFailed('register', e.kind ?? 'bench', e.message);
            if (e.status && e.status >= 400 && e.status < 500) throw err; // refused: retrying would not help
            await new Promise((r) => setTimeout(r, Math.min(backoff.next(), Math.max(0, deadline - Date.now()))));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: REGISTER_CONCURRENCY }, worker));
    return this.byId.size;
  }

  node(nodeId: string): SimNode | undefined {
    return this.byId.get(nodeId);
  }

  /** Random task crashes across the live nodes at `perSecond` (0: none), until stopCrashes(). */
  startCrashes(perSecond: number): void {
    if (perSecond <= 0) return;
    const live = [...this.byId.values()];
    this.crashTimer = setInterval(() => {
      for (let tries = 0; tries < 10; tries++) if (live[Math.floor(Math.random() * live.length)]!.crashOneTask()) break;
    }, 1000 / perSecond);
  }

  stopCrashes(): void {
    clearInterval(this.crashTimer);
  }

  async stop(): Promise<void> {
    this.stopCrashes();
    for (const node of this.nodes) node.kill();
    await this.push?.close();
    await this.api.close();
  }
}
