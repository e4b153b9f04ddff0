/** `zectre deploy`, loaded when it runs: detect the start command, pack, upload, create, follow. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CreateDeployment, Deployment, Project } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import type { DeployOptions } from '../commands/deploy.js';
import { checkEnv } from '../env-pairs.js';
import { CliError } from '../errors.js';
import { formatBytes, printJson, shortDigest } from '../output.js';
import { packDir } from '../pack.js';
import { finishRelease, watchDeployment } from '../rollout.js';
import { detectStartCommand } from '../start-command.js';
import { uploadArtifact } from '../upload.js';

export async function deploy(dir: string, opts: DeployOptions): Promise<void> {
  // Progress is for people; with --json, stdout carries only the deployment.
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  const bars = Boolean(process.stderr.isTTY);
  if (opts.env) await checkEnv(opts.env);
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
