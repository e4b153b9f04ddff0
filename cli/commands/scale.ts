import type { Command } from 'commander';
import type { Deployment, Scale, ScaleAnswer } from '../../protocol/index.js';
import { MAX_REPLICAS } from '../../protocol/limits.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, WAIT_FOR_CAPACITY_HELP } from '../output.js';
import { parseReplicas } from './deploy.js';

const SCALE_WAIT_MS = 120_000;

/** Scaled means: exactly `replicas` tasks should run and all of them are healthy. */
const settledAt = (d: Deployment) => {
  const running = d.tasks.filter((t) => t.desiredState === 'running');
  return running.length === d.replicas && running.every((t) => t.observedState === 'healthy');
};

export function registerScale(program: Command): void {
  program
    .command('scale')
    .description('run N tasks of the live deployment (in place, no new release); waits until N are healthy')
    .argument('<project>', 'project name')
    .argument('<n>', `number of tasks, 1-${MAX_REPLICAS}`, parseReplicas)
    .option('--wait', WAIT_FOR_CAPACITY_HELP)
    .option('--no-wait', 'return once the change is accepted')
    .option('--json', 'print the scaled deployment as JSON (progress goes to stderr)')
    .addHelpText('after', examples('zectre scale hello 3'))
    .action(async (project: string, replicas: number, opts: { wait?: boolean; json?: boolean }) => {
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const client = await clientFromConfig();
      const body: Scale = { replicas };
      const answer = await client.post<ScaleAnswer>(`/api/v1/projects/${encodeURIComponent(project)}/scale`, body);
      say(`scaling ${project} (${answer.deployment.id}) from ${answer.previousReplicas} to ${replicas} task(s)`);
      let final = answer.deployment;
      if (opts.wait !== false) {
        const { watchDeployment } = await import('../rollout.js'); // not at startup: it loads the progress bars
        final = await watchDeployment(client, answer.deployment, say, {
          bars: Boolean(process.stderr.isTTY),
          done: settledAt,
          giveUpAt: Date.now() + SCALE_WAIT_MS,
          capacity: opts.wait ? 'wait' : 'fail',
          capacityHint: 'scale to fewer tasks',
        });
        say(`${project} runs ${replicas} healthy task(s)`);
      }
      if (opts.json) printJson(final);
    });
}
