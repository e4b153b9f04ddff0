import type { Command } from 'commander';
import type { Deployment, Scale, ScaleAnswer } from '../../protocol/index.js';
import { MAX_REPLICAS } from '../../protocol/limits.js';
import { clientFromConfig } from '../api-client.js';
import { CliError } from '../errors.js';
import { examples, printJson, WAIT_FOR_CAPACITY_HELP } from '../output.js';
import { parseCpu, parsePositive, parseReplicas } from './deploy.js';

const SCALE_WAIT_MS = 120_000;

/** Scaled means: exactly `replicas` tasks should run and all of them are healthy. */
const settledAt = (d: Deployment) => {
  const running = d.tasks.filter((t) => t.desiredState === 'running');
  return running.length === d.replicas && running.every((t) => t.observedState === 'healthy');
};

interface ScaleOptions {
  wait?: boolean;
  json?: boolean;
  cpu?: number;
  memory?: number;
}

export function registerScale(program: Command): void {
  program
    .command('scale')
    .description(
      'run N tasks of the live deployment (in place, no new release) and/or give its tasks new resources ' +
        '(a new release of it, health-gated like a deploy); waits until they are healthy',
    )
    .argument('<project>', 'project name')
    .argument('[n]', `number of tasks, 1-${MAX_REPLICAS} (default: as many as now)`, parseReplicas)
    .option('--cpu <millicores>', 'CPU per task, in thousandths of a core: 250 or 250m', parseCpu)
    .option('--memory <MB>', 'memory per task, in MB: the task is killed above it', parsePositive)
    .option('--wait', WAIT_FOR_CAPACITY_HELP)
    .option('--no-wait', 'return once the change is accepted')
    .option('--json', 'print the scaled deployment as JSON (progress goes to stderr)')
    .addHelpText('after', examples('zectre scale hello 3', 'zectre scale hello --memory 512 --cpu 250m'))
    .action(async (project: string, replicas: number | undefined, opts: ScaleOptions) => {
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const resources = { ...(opts.cpu === undefined ? {} : { cpuMillis: opts.cpu }), ...(opts.memory === undefined ? {} : { memoryMb: opts.memory }) };
      const changesResources = Object.keys(resources).length > 0;
      if (replicas === undefined && !changesResources) throw new CliError('say how many tasks (zectre scale hello 3), or give --cpu/--memory', 2);
      // The bounds live with the API's schemas, loaded only when resources are asked for (startup time).
      if (changesResources) (await import('../start-command.js')).checkResources(resources);
      const client = await clientFromConfig();
      const body: Scale = { ...(replicas === undefined ? {} : { replicas }), ...(changesResources ? { resources } : {}) };
      const answer = await client.post<ScaleAnswer>(`/api/v1/projects/${encodeURIComponent(project)}/scale`, body);
      const count = answer.deployment.replicas;
      const { watchDeployment, finishRelease } = await import('../rollout.js'); // not at startup: it loads the progress bars
      if (answer.newRelease) {
        say(`scaling ${project}: starting release ${answer.deployment.id} with ${describe(resources)} per task, ${count} task(s) (same artifact, command and env)`);
      } else {
        say(`scaling ${project} (${answer.deployment.id}) from ${answer.previousReplicas} to ${count} task(s)`);
      }
      if (opts.wait === false) {
        if (opts.json) printJson(answer.deployment);
        return;
      }
      const watch = { bars: Boolean(process.stderr.isTTY), capacity: opts.wait ? ('wait' as const) : ('fail' as const) };
      if (answer.newRelease) {
        const final = await watchDeployment(client, answer.deployment, say, { ...watch, capacityHint: 'ask for less with --cpu/--memory' });
        if (opts.json) printJson(final);
        await finishRelease(client, final, say);
        return;
      }
      const final = await watchDeployment(client, answer.deployment, say, {
        ...watch,
        done: settledAt,
        giveUpAt: Date.now() + SCALE_WAIT_MS,
        capacityHint: 'scale to fewer tasks',
      });
      say(`${project} runs ${count} healthy task(s)`);
      if (opts.json) printJson(final);
    });
}

/** What was asked for; the rest stays as the live deployment has it. */
function describe(r: { cpuMillis?: number; memoryMb?: number }): string {
  return [r.cpuMillis === undefined ? null : `${r.cpuMillis}m CPU`, r.memoryMb === undefined ? null : `${r.memoryMb} MB`].filter(Boolean).join(', ');
}
