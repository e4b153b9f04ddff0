import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { NodeView } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { CliError } from '../errors.js';
import { examples, printJson, table } from '../output.js';

const DRAIN_POLL_MS = 500;
const DRAIN_WAIT_MS = 300_000;

export function registerNodes(program: Command): void {
  const nodes = program.command('nodes').description('the machines that run tasks (admin)');

  nodes
    .command('list')
    .description('every node: status, address, capacity, allocated, last heartbeat')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre nodes list', 'zectre nodes list --json'))
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ nodes: NodeView[] }>('/api/v1/nodes');
      if (opts.json) return printJson(answer);
      if (answer.nodes.length === 0) {
        console.log('no nodes yet; create a join token with `zectre join-tokens create` and start an agent with it');
        return;
      }
      const rows = answer.nodes.map((n) => [
        n.name,
        n.id,
        n.status,
        n.address,
        `${n.capacity.cpuMillis}m / ${n.capacity.memoryMb} MB`,
        `${n.allocated.cpuMillis}m / ${n.allocated.memoryMb} MB (${n.runningTasks} tasks)`,
        n.lastHeartbeatAt,
      ]);
      console.log(table(['NAME', 'ID', 'STATUS', 'ADDRESS', 'CAPACITY', 'ALLOCATED', 'LAST HEARTBEAT'], rows));
    });

  nodes
    .command('drain')
    .description('move every task off NODE (replacements start elsewhere; each old task stops once they are healthy)')
    .argument('<node>', 'node name or id')
    .option('--no-wait', 'return once the drain has started')
    .option('--json', 'print the node as JSON at the end (progress goes to stderr)')
    .addHelpText('after', examples('zectre nodes drain worker-2'))
    .action(async (ref: string, opts: { wait: boolean; json?: boolean }) => {
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const client = await clientFromConfig();
      let node = await client.post<NodeView>(`/api/v1/nodes/${encodeURIComponent(ref)}/drain`, {});
      say(`draining ${node.name} (${node.id}): ${node.runningTasks} task(s) to move`);
      if (opts.wait) node = await waitDrained(client, node, say);
      if (opts.json) printJson(node);
    });
}

async function waitDrained(client: Awaited<ReturnType<typeof clientFromConfig>>, start: NodeView, say: (line: string) => void): Promise<NodeView> {
  const giveUpAt = Date.now() + DRAIN_WAIT_MS;
  let node = start;
  let shown = node.runningTasks;
  while (node.runningTasks > 0) {
    if (Date.now() > giveUpAt) {
      throw new CliError(`gave up waiting: ${node.name} still runs ${node.runningTasks} task(s); see \`zectre status\` for replacements waiting on capacity`, 1, 'timeout');
    }
    await sleep(DRAIN_POLL_MS);
    node = await client.get<NodeView>(`/api/v1/nodes/${encodeURIComponent(node.id)}`);
    if (node.runningTasks !== shown) say(`${node.name}: ${node.runningTasks} task(s) left`);
    shown = node.runningTasks;
  }
  say(`${node.name} is drained: its tasks run elsewhere and it takes no new ones`);
  return node;
}
