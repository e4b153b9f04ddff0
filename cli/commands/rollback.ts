import type { Command } from 'commander';
import type { Rollback, RollbackAnswer } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, WAIT_FOR_CAPACITY_HELP } from '../output.js';

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description(
      'return to an earlier release (default: the previous good one): instant when it still runs as the standby ' +
        '(routing switches to it), else a new release from it that goes live once healthy',
    )
    .argument('<project>', 'project name')
    .argument('[deployment]', 'deployment id to return to (see `zectre deployments list`)')
    .option('--wait', WAIT_FOR_CAPACITY_HELP)
    .option('--no-wait', 'return once the release is created (or routing switched)')
    .option('--json', 'print the final deployment as JSON (progress goes to stderr)')
    .addHelpText('after', examples('zectre rollback hello', 'zectre rollback hello d1234abcd5678'))
    .action(async (project: string, deployment: string | undefined, opts: { wait?: boolean; json?: boolean }) => {
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const client = await clientFromConfig();
      const body: Rollback = deployment ? { deployment } : {};
      const { switched, ...created } = await client.post<RollbackAnswer>(`/api/v1/projects/${encodeURIComponent(project)}/rollback`, body);
      if (switched) say(`rolling ${project} back: switched routing to running release ${created.id} (no new tasks)`);
      else say(`rolling ${project} back: starting release ${created.id} from ${deployment ?? 'the previous good release'} (new tasks)`);
      say(`${project}'s env vars are that release's again (as on Heroku): zectre env list ${project} shows them`);
      if (opts.wait === false) {
        if (opts.json) printJson(created);
        return;
      }
      const { finishRelease, watchDeployment } = await import('../rollout.js'); // not at startup: it loads the progress bars
      // A switched release is live already; finishRelease still waits for every proxy to serve the switch.
      const final = switched ? created : await watchDeployment(client, created, say, { bars: Boolean(process.stderr.isTTY), capacity: opts.wait ? 'wait' : 'fail' });
      if (opts.json) printJson(final);
      await finishRelease(client, final, say);
    });
}
