import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { MAX_REPLICAS, type CreateDeployment, type Deployment, type Project } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import { parseEnvPair } from '../env-pairs.js';
import { CliError } from '../errors.js';
import { examples, formatBytes, printJson, shortDigest } from '../output.js';
import { packDir } from '../pack.js';
import { finishRelease, watchDeployment } from '../rollout.js';
import { detectStartCommand } from '../start-command.js';
import { uploadArtifact } from '../upload.js';

interface DeployOptions {
  project: string;
  cmd?: string;
  replicas?: number;
  deadline?: number;
  env?: Record<string, string>;
  wait: boolean;
  json?: boolean;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('pack DIR, upload it and start it as a new deployment of a project')
    .argument('[dir]', 'app directory', '.')
    .requiredOption('-p, --project <name>', 'project to deploy')
    .option('--cmd <command>', "start command (default: zectre.json's command, the Procfile's web: line, npm start)")
    .option('--replicas <n>', 'number of tasks to run (default: as many as the live deployment, else 1)', parseReplicas)
    .option('--deadline <seconds>', 'fail the deployment if it is not healthy within this time (default 120)', parseDeadline)
    .option('-e, --env <KEY=VALUE>', 'env var for this deployment, over the project ones (repeatable)', collectEnv)
    .option('--no-wait', 'return once the deployment is created instead of waiting for it to go live')
    .option('--json', 'print the final deployment as JSON (progress goes to stderr)')
    .addHelpText(
      'after',
      examples('zectre deploy examples/hello --project hello --env HELLO_VERSION=2 --replicas 2'),
    )
    .action(async (dir: string, opts: DeployOptions) => {
      // Progress is for people; with --json, stdout carries only the deployment.
      const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
      const bars = Boolean(process.stderr.isTTY);
      const client = await clientFromConfig();
      const root = resolve(dir);
      await assertDirectory(root);

      const start = await detectStartCommand(root, opts.cmd);
      say(`start command: ${start.command} (from ${start.source})`);

      const packed = await packDir(root);
      const artifact = await uploadArtifact(client, opts.project, packed, bars);
      say(`uploaded ${shortDigest(artifact.digest)} (${formatBytes(artifact.size)})`);

      const body: CreateDeployment = {
        artifact: artifact.digest,
        command: start.command,
        replicas: opts.replicas ?? (await liveReplicas(client, opts.project)),
        ...(opts.deadline === undefined ? {} : { deadlineSeconds: opts.deadline }),
        env: opts.env ?? {},
        ...(start.healthCheckPath === undefined ? {} : { healthCheck: { path: start.healthCheckPath } }),
      };
      const created = await client.post<Deployment>(`/api/v1/projects/${encodeURIComponent(opts.project)}/deployments`, body);

      if (!opts.wait) {
        say(`created deployment ${created.id} (${created.status}); preview at ${created.urls.preview}`);
        if (opts.json) printJson(created);
        return;
      }
      const final = await watchDeployment(client, created, say, { bars });
      if (opts.json) printJson(final);
      await finishRelease(client, final, say);
    });
}

/** A deploy keeps the replica count `zectre scale` set, as fly and kamal do. */
async function liveReplicas(client: ApiClient, project: string): Promise<number> {
  const answer = await client.get<Project & { liveDeployment: Deployment | null }>(`/api/v1/projects/${encodeURIComponent(project)}`);
  return answer.liveDeployment?.replicas ?? 1;
}

async function assertDirectory(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) throw new CliError(`${path} is not a directory`);
}

export function parseReplicas(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_REPLICAS}`);
  return n;
}

function parseDeadline(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 5 || n > 3600) throw new InvalidArgumentError('expected a whole number of seconds from 5 to 3600');
  return n;
}

function collectEnv(pair: string, previous: Record<string, string> | undefined): Record<string, string> {
  try {
    const [key, value] = parseEnvPair(pair);
    return { ...previous, [key]: value };
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
