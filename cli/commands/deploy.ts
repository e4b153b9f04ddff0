import { InvalidArgumentError, type Command } from 'commander';
import { MAX_REPLICAS } from '../../protocol/limits.js';
import { splitEnvPair } from '../env-pairs.js';
import { examples, WAIT_FOR_CAPACITY_HELP } from '../output.js';

export interface DeployOptions {
  project: string;
  cmd?: string;
  replicas?: number;
  deadline?: number;
  env?: Record<string, string>;
  /** --wait: true, --no-wait: false, neither: undefined (wait, but not for capacity). */
  wait?: boolean;
  cpu?: number;
  memory?: number;
  json?: boolean;
  /** --build: true, --no-build: false, neither: undefined (build when there is a lockfile and no node_modules). */
  build?: boolean;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description(
      'pack DIR, upload it (unless the project has those exact bytes already), build it on a builder node when it needs one, ' +
        'and start it as a new deployment of a project',
    )
    .argument('[dir]', 'app directory', '.')
    .requiredOption('-p, --project <name>', 'project to deploy')
    .option('--cmd <command>', "start command (default: zectre.json's command, the Procfile's web: line, npm start)")
    .option('--replicas <n>', 'number of tasks to run (default: as many as the live deployment, else 1)', parseReplicas)
    .option('--deadline <seconds>', 'fail the deployment if it is not healthy within this time (default 120)', parseDeadline)
    .option('-e, --env <KEY=VALUE>', 'env var for this deployment, over the project ones (repeatable)', collectEnv)
    .option('--cpu <millicores>', "CPU per task, in thousandths of a core: 250 or 250m (default: zectre.json's resources.cpuMillis, else 100)", parseCpu)
    .option('--memory <MB>', "memory per task, in MB: the task is killed above it (default: zectre.json's resources.memoryMb, else 128)", parsePositive)
    .option('--wait', WAIT_FOR_CAPACITY_HELP)
    .option('--no-wait', 'return once the deployment is created instead of waiting for it to go live')
    .option('--json', 'print the final deployment as JSON (progress goes to stderr)')
    // --build before --no-build, as for --wait: neither leaves the option undefined.
    .option('--build', "upload the source and build it on a builder node (default when there is a lockfile and no node_modules, or zectre.json has \"build\")")
    .option('--no-build', 'upload DIR as it is, node_modules included, without a remote build')
    .addHelpText(
      'after',
      examples(
        'zectre deploy examples/hello --project hello --env HELLO_VERSION=2 --replicas 2',
        'zectre deploy . --project web --memory 512 --cpu 500',
        'zectre deploy . --project api --build',
      ),
    )
    // Packing, uploading and the contract's schemas load only when a deploy runs (startup time).
    .action(async (dir: string, opts: DeployOptions) => (await import('../run/deploy.js')).deploy(dir, opts));
}

export function parseReplicas(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_REPLICAS}`);
  return n;
}

/** A whole number above 0; the API's bounds are checked when the command runs (they live with the schemas). */
export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number above 0');
  return n;
}

/** Millicores, as Kubernetes writes them too: `250` or `250m`. */
export function parseCpu(value: string): number {
  return parsePositive(value.endsWith('m') ? value.slice(0, -1) : value);
}

function parseDeadline(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 5 || n > 3600) throw new InvalidArgumentError('expected a whole number of seconds from 5 to 3600');
  return n;
}

function collectEnv(pair: string, previous: Record<string, string> | undefined): Record<string, string> {
  try {
    const [key, value] = splitEnvPair(pair);
    return { ...previous, [key]: value };
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
