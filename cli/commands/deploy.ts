import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Artifact, CreateDeployment, Deployment } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import { failureLines, isSettled, progressLines } from '../deploy-progress.js';
import { parseEnvPair } from '../env-pairs.js';
import { CliError, ConnectionError } from '../errors.js';
import { examples, formatBytes, printJson, shortDigest } from '../output.js';
import { packDir } from '../pack.js';
import { detectStartCommand } from '../start-command.js';

const POLL_MS = 250;
/** Grace after the deployment's own deadline, for the server to notice and mark it failed. */
const DEADLINE_GRACE_MS = 30_000;

interface DeployOptions {
  project: string;
  cmd?: string;
  replicas: number;
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
    .option('--replicas <n>', 'number of tasks to run', parseReplicas, 1)
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
      const client = await clientFromConfig();
      const root = resolve(dir);
      await assertDirectory(root);

      const start = await detectStartCommand(root, opts.cmd);
      say(`start command: ${start.command} (from ${start.source})`);

      const packed = await packDir(root);
      const artifact = await client.put<Artifact>('/api/v1/artifacts', packed.data, {
        headers: { 'content-type': 'application/gzip', 'x-zectre-digest': packed.digest },
      });
      say(`uploaded ${shortDigest(artifact.digest)} (${formatBytes(artifact.size)})`);

      const body: CreateDeployment = {
        artifact: artifact.digest,
        command: start.command,
        replicas: opts.replicas,
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
      const final = await waitForDeployment(client, created, say);
      if (opts.json) printJson(final);
      if (final.status === 'failed') {
        for (const line of failureLines(final)) process.stderr.write(`${line}\n`);
        throw new CliError(`deployment ${final.id} failed: ${final.statusReason ?? 'no reason given'}`, 1, 'deployment_failed');
      }
      if (final.status !== 'live') say(`deployment ${final.id} went live but is already ${final.status} (a newer one replaced it)`);
      else say(`live at ${final.urls.app}`);
      say(`preview at ${final.urls.preview}`);
    });
}

/** Polls until the deployment settles, printing a line whenever something changed. */
async function waitForDeployment(client: ApiClient, created: Deployment, say: (line: string) => void): Promise<Deployment> {
  const giveUpAt = Date.parse(created.deadlineAt) + DEADLINE_GRACE_MS;
  let shown: Deployment | null = null;
  let current = created;
  let offline = false;
  for (;;) {
    for (const line of progressLines(shown, current)) say(line);
    shown = current;
    if (isSettled(current.status)) return current;
    if (Date.now() > giveUpAt) {
      throw new CliError(
        `gave up: deployment ${current.id} is still ${current.status} ${DEADLINE_GRACE_MS / 1000} s after its deadline`,
        1,
        'deadline_exceeded',
      );
    }
    await sleep(POLL_MS);
    try {
      current = await client.get<Deployment>(`/api/v1/deployments/${encodeURIComponent(created.id)}`);
      offline = false;
    } catch (err) {
      // A control-plane restart should not abort the wait; the deadline still bounds it.
      if (!(err instanceof ConnectionError)) throw err;
      if (!offline) say(`${err.message}; retrying`);
      offline = true;
    }
  }
}

async function assertDirectory(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) throw new CliError(`${path} is not a directory`);
}

function parseReplicas(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('expected a whole number from 1 to 100');
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
