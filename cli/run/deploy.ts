/** `zectre deploy`, loaded when it runs: check the project, detect the start command, pack, upload, create, follow. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CreateDeployment, Deployment, ProjectDetail } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import type { DeployOptions } from '../commands/deploy.js';
import { checkEnv } from '../env-pairs.js';
import { ApiError, CliError } from '../errors.js';
import { IGNORE_FILE } from '../ignore.js';
import { formatBytes, printJson, shortDigest } from '../output.js';
import { packDir, type PackedArtifact, type PackProgress } from '../pack.js';
import { finishRelease, watchDeployment } from '../rollout.js';
import { detectStartCommand, resourceRequest, type ResourceRequest } from '../start-command.js';
import { findArtifact, uploadArtifact } from '../upload.js';

export async function deploy(dir: string, opts: DeployOptions): Promise<void> {
  // Progress is for people; with --json, stdout carries only the deployment.
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  const bars = Boolean(process.stderr.isTTY);
  if (opts.env) await checkEnv(opts.env);
  const client = await clientFromConfig();
  const root = resolve(dir);
  await assertDirectory(root);

  // Everything that can be known before the upload is checked before it: the upload is the slow part.
  const project = await getProject(client, opts.project);
  const start = await detectStartCommand(root, opts.cmd);
  say(`start command: ${start.command} (from ${start.source})`);
  const resources = await resourceRequest(root, {
    ...(opts.cpu === undefined ? {} : { cpuMillis: opts.cpu }),
    ...(opts.memory === undefined ? {} : { memoryMb: opts.memory }),
  });
  if (Object.keys(resources).length) say(`resources per task: ${describeResources(resources)}`);

  say(`packing ${root}…`);
  const packed = await packDir(root, { onProgress: packProgress(say) });
  say(`packed ${packed.entries} files and directories into ${formatBytes(packed.size)}`);
  let artifact = await findArtifact(client, opts.project, packed.digest);
  if (artifact) {
    say(`artifact ${shortDigest(artifact.digest)} already uploaded, skipping`);
  } else {
    if (packed.size > project.limits.artifactBytes) throw tooLarge(packed, project.limits.artifactBytes);
    artifact = await uploadArtifact(client, opts.project, packed, bars, say).catch((err: unknown) => {
      // A server configured below what it announced (or an older one) still gets the same advice.
      throw err instanceof ApiError && err.status === 413 ? tooLarge(packed, null) : err;
    });
    say(`uploaded ${shortDigest(artifact.digest)} (${formatBytes(artifact.size)})`);
  }

  const body: CreateDeployment = {
    artifact: artifact.digest,
    command: start.command,
    // A deploy keeps the replica count `zectre scale` set, as fly and kamal do.
    replicas: opts.replicas ?? project.liveDeployment?.replicas ?? 1,
    ...(opts.deadline === undefined ? {} : { deadlineSeconds: opts.deadline }),
    env: opts.env ?? {},
    ...(start.healthCheckPath === undefined ? {} : { healthCheck: { path: start.healthCheckPath } }),
    ...(Object.keys(resources).length ? { resources } : {}),
  };
  const created = await client.post<Deployment>(`/api/v1/projects/${encodeURIComponent(opts.project)}/deployments`, body);

  if (opts.wait === false) {
    say(`created deployment ${created.id} (${created.status}); preview at ${created.urls.preview}`);
    if (opts.json) printJson(created);
    return;
  }
  const final = await watchDeployment(client, created, say, {
    bars,
    capacity: opts.wait ? 'wait' : 'fail',
    capacityHint: 'ask for less with --cpu/--memory',
  });
  if (opts.json) printJson(final);
  await finishRelease(client, final, say);
}

/** Time between progress lines while packing: a large tree (node_modules) takes tens of seconds, a small one prints none. */
const PACK_PROGRESS_EVERY_MS = 2_000;

function packProgress(say: (line: string) => void): (p: PackProgress) => void {
  let next = Date.now() + PACK_PROGRESS_EVERY_MS;
  return (p) => {
    if (Date.now() < next) return;
    next = Date.now() + PACK_PROGRESS_EVERY_MS;
    say(`packing: ${p.entries} files and directories, ${formatBytes(p.bytesRead)} read, ${formatBytes(p.bytesPacked)} packed`);
  };
}

/** The API's defaults fill in what was not asked for. */
function describeResources(r: ResourceRequest): string {
  return `${r.cpuMillis ?? 100}m CPU, ${r.memoryMb ?? 128} MB`;
}

async function getProject(client: ApiClient, name: string): Promise<ProjectDetail> {
  try {
    return await client.get<ProjectDetail>(`/api/v1/projects/${encodeURIComponent(name)}`);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'project_not_found') {
      throw new CliError(`project ${name} does not exist (or is not yours): create it with \`zectre projects create ${name}\``, 1, err.code);
    }
    throw err;
  }
}

function tooLarge(packed: PackedArtifact, limit: number | null): CliError {
  return new CliError(
    `the packed app is ${formatBytes(packed.size)}, over this API's artifact limit${limit === null ? '' : ` of ${formatBytes(limit)}`} ` +
      `(MAX_ARTIFACT_BYTES): list what the app does not need at run time (build caches, tests, docs, media) in ${IGNORE_FILE} ` +
      '(one pattern a line, as in .gitignore), or make the app smaller',
    1,
    'artifact_too_large',
  );
}

async function assertDirectory(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info?.isDirectory()) throw new CliError(`${path} is not a directory`);
}
