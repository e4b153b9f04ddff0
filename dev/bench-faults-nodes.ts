/** The two agents of bench:faults (nodes A and B): signalled with or without their tasks, restarted, waited on. */
import { join } from 'node:path';
import { defaultWorkDir } from '../node-agent/env-config.js';
import type { createPool } from '../sql/connect.js';
import { apiClient, taskGroupsUnder, taskPortRange } from '../test/e2e/agent-support.js';
import { startSecondAgent } from '../test/e2e/operate-support.js';
import { waitFor, type Child } from './processes.js';

const NAMES = ['nodeA', 'nodeB'];

export class Nodes {
  private readonly agents = new Map<string, { child: Child; portRange: string }>();

  constructor(
    private readonly dir: string,
    private readonly apiUrl: string,
    private readonly api: ReturnType<typeof apiClient>,
    private readonly pool: ReturnType<typeof createPool>,
  ) {}

  /** Stops the stack's agent and starts nodes A and B; resolves once the stack's node is down, so nothing is placed on it. */
  async replaceStackAgent(stackAgent: Child): Promise<void> {
    const [stackNode] = (await this.pool.query(`SELECT id FROM nodes`)).rows;
    await stackAgent.stop();
    for (const name of NAMES) {
      const portRange = taskPortRange();
      this.agents.set(name, { child: await this.launch(name, portRange), portRange });
    }
    await waitFor('the stack agent\'s node to be declared down', async () => (await this.pool.query(`SELECT 1 FROM nodes WHERE id = $1 AND status = 'down'`, [stackNode.id])).rowCount === 1, 120_000);
    for (const name of NAMES) await this.ready(name);
  }

  async nameOf(nodeId: string): Promise<string> {
    return (await this.pool.query(`SELECT name FROM nodes WHERE id = $1`, [nodeId])).rows[0].name as string;
  }

  /** Sends `signal` to the node's agent and, with `tasks`, to its tasks' process groups (those given, or all found now). */
  signal(name: string, signal: NodeJS.Signals, opts: { tasks: boolean; groups?: Set<number> }): Set<number> {
    const groups = opts.tasks ? (opts.groups ?? taskGroupsUnder(defaultWorkDir(join(this.dir, name)))) : new Set<number>();
    const kill = (pid: number) => {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    };
    kill(this.agent(name).child.proc.pid!);
    for (const group of groups) kill(-group);
    return groups;
  }

  /** Starts the node's agent again (the old one is killed if it still runs) with the same state; resolves once its node is ready. */
  async restart(name: string): Promise<void> {
    const old = this.agent(name);
    if (old.child.proc.exitCode === null && old.child.proc.signalCode === null) {
      const exited = new Promise((resolve) => old.child.proc.once('exit', resolve));
      old.child.proc.kill('SIGKILL');
      await exited;
    }
    old.child = await this.launch(name, old.portRange);
    await this.ready(name);
  }

  async ready(name: string): Promise<void> {
    await waitFor(`node ${name} ready`, async () => {
      const { rows } = await this.pool.query(`SELECT status FROM nodes WHERE name = $1 ORDER BY last_heartbeat_at DESC NULLS LAST LIMIT 1`, [name]);
      return rows[0]?.status === 'ready';
    }, 120_000);
  }

  async stop(): Promise<void> {
    for (const name of this.agents.keys()) this.signal(name, 'SIGCONT', { tasks: true });
    for (const { child } of this.agents.values()) await child.stop();
  }

  private agent(name: string) {
    const a = this.agents.get(name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  }

  private async launch(name: string, portRange: string): Promise<Child> {
    const { secret } = await this.api.call<{ secret: string }>('POST', '/api/v1/join-tokens', {});
    return startSecondAgent({ apiUrl: this.apiUrl, joinToken: secret, dir: this.dir, name, portRange });
  }
}
