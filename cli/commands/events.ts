import { InvalidArgumentError, type Command } from 'commander';
import type { EventView } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, table } from '../output.js';

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500');
  return n;
}

/** `zectre events PROJECT`: the project's audit trail (who deployed, changed env, invited, removed…). */
export function registerEvents(program: Command): void {
  program
    .command('events')
    .description("PROJECT's audit trail, newest first: what happened and who did it (any member may look)")
    .argument('<project>', 'project name')
    .option('-n, --limit <n>', 'how many (default 50, at most 500)', parseLimit)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre events hello', 'zectre events hello -n 200 --json'))
    .action(async (project: string, opts: { limit?: number; json?: boolean }) => {
      const client = await clientFromConfig();
      const query = opts.limit ? `?limit=${opts.limit}` : '';
      const answer = await client.get<{ events: EventView[] }>(`/api/v1/projects/${encodeURIComponent(project)}/events${query}`);
      if (opts.json) return printJson(answer);
      const rows = answer.events.map((e) => [e.at, e.actor ?? '(system)', e.kind, JSON.stringify(e.data)]);
      console.log(table(['AT', 'ACTOR', 'EVENT', 'DATA'], rows));
    });
}
