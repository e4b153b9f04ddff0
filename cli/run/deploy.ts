/**
 * `zectre deploy`, loaded when it runs: decide whether to build remotely, check the project, detect the
 * start command, pack, upload (unless the registry has those bytes), build or create, follow.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Artifact, CreateDeployment, Deployment, ProjectDetail } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import { getBuild, type Build, type BuildLogLine } from '../build-api.js';
import { decideBuild, describeDecision, type BuildDecision } from '../build-plan.js';
import type { DeployOptions } from '../commands/deploy.js';
import { checkEnv } from '../env-pairs.js';
import { ApiError, CliError } from '../errors.js';
import { IGNORE_FILE } from '../ignore.js';
import { formatBytes, printJson, shortDigest } from '../output.js';
import { packDir, type PackedArtifact, type PackProgress } from '../pack.js';
import { finishRelease, watchDeployment, type Say } from '../rollout.js';
import { detectStartCommand, resourceRequest, type ResourceRequest, type StartCommand } from '../start-command.js';
import { findArtifact, uploadArtifact } from '../upload.js';
import { buildFailed, formatBuildLine, startBuild, watchBuild } from './build.js';

/** How long a succeeded build may take to show the deployment the edge made from it. */
const DEPLOYMENT_WAIT_MS = 30_000;
const POLL_MS = 250;

export async function deploy(dir: string, opts: DeployOptions): Promise<void> {
  // Progress is for people; with --json, stdout carries only the deployment.
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  const bars = Boolean(process.stderr.isTTY);
  if (opts.env) await checkEnv(opts.env);
  const root = resolve(dir);
  await assertDirectory(root);
  // Said before anything touches the network: it decides what is packed.
  const decision = await decideBuild(root, opts.build);
  say(describeDecision(decision));
  const client = await clientFromConfig();

  // Everything that can be known before the upload is checked before it: the upload is the slow part.
  const project = await getProject(client, opts.project);
  const start = decision.build ? await startOnBuilder(root, opts.cmd, decision) : await detectStartCommand(root, opts.cmd);
  if (start) say(`start command: ${start.command} (from ${start.source})`);
  const resources = await resourceRequest(root, {
    ...(opts.cpu === undefined ? {} : { cpuMillis: opts.cpu }),
    ...(opts.memory === undefined ? {} : { memoryMb: opts.memory }),
  });
  if (Object.keys(resources).length) say(`resources per task: ${describeResources(resources)}`);

  say(`packing ${decision.build ? 'the source of ' : ''}${root}…`);
  const packed = await packDir(root, { source: decision.build, onProgress: packProgress(say) });
  say(`packed ${packed.entries} files and directories into ${formatBytes(packed.size)}`);
  const artifact = await uploadOnce(client, project, packed, bars, say);

  const settings = {
    // A deploy keeps the replica count `zectre scale` set, as fly and kamal do.
    replicas: opts.replicas ?? project.liveDeployment?.replicas ?? 1,
    ...(opts.deadline === undefined ? {} : { deadlineSeconds: opts.deadline }),
    env: opts.env ?? {},
    ...(start?.healthCheckPath === undefined ? {} : { healthCheck: { path: start.healthCheckPath } }),
    ...(Object.keys(resources).length ? { resources } : {}),
  };
  let created: Deployment | null;
  if (decision.build) {
    created = await buildAndRelease(client, opts, decision, artifact.digest, start, settings, say);
    if (!created) return; // --no-wait: the build was queued
  } else {
    const body: CreateDeployment = { artifact: artifact.digest, command: start!.command, ...settings };
    created = await client.post<Deployment>(`/api/v1/projects/${encodeURIComponent(opts.project)}/deployments`, body);
  }

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

/** The project's artifact with these bytes: found in the registry (not uploaded again) or uploaded now. */
async function uploadOnce(client: ApiClient, project: ProjectDetail, packed: PackedArtifact, bars: boolean, say: Say): Promise<Artifact> {
  const found = await findArtifact(client, project.name, packed.digest);
  if (found) {
    say(`artifact ${shortDigest(found.digest)} already uploaded, skipping`);
    return found;
  }
  if (packed.size > project.limits.artifactBytes) throw tooLarge(packed, project.limits.artifactBytes);
  const artifact = await uploadArtifact(client, project.name, packed, bars, say).catch((err: unknown) => {
    // A server configured below what it announced (or an older one) still gets the same advice.
    throw err instanceof ApiError && err.status === 413 ? tooLarge(packed, null) : err;
  });
  say(`uploaded ${shortDigest(artifact.digest)} (${formatBytes(artifact.size)})`);
  return artifact;
}

type Settings = Omit<CreateDeployment, 'artifact' | 'command'>;

/**
 * Builds the uploaded source on a builder, streaming its output, and returns the deployment made
 * from the result (null with --no-wait: the build was only queued). The edge creates that
 * deployment itself (with the live release's replicas, health check and resources), so the release
 * happens even if this CLI goes away; only when this deploy asks for settings the build API does not
 * carry (--env, --replicas, --deadline, resources, zectre.json's health check) does the CLI create
 * it, once the build has succeeded.
 */
async function buildAndRelease(
  client: ApiClient,
  opts: DeployOptions,
  decision: BuildDecision,
  sourceDigest: string,
  start: StartCommand | null,
  settings: Settings,
  say: Say,
): Promise<Deployment | null> {
  const own = ownSettings(opts, settings);
  // --cmd and zectre.json's command reach the builder as build.start (its plan reads a Procfile and package.json itself).
  const named = start && (start.source === '--cmd' || start.source === 'zectre.json') ? { start: start.command } : {};
  const config = { ...decision.config, ...named };
  const first = await startBuild(client, opts.project, { sourceDigest, deploy: !own, ...(Object.keys(config).length ? { config } : {}) });
  if (own) say(`this CLI creates the deployment once the build succeeds (${own} given)`);
  if (opts.wait === false && !own) {
    say(`queued build ${first.id}; it deploys when it succeeds. Follow it with zectre builds logs ${first.id} -f`);
    if (opts.json) printJson({ build: first });
    return null;
  }
  const print = (line: BuildLogLine) => say(formatBuildLine(line, !opts.json && Boolean(process.stdout.isTTY)));
  const build = await watchBuild(client, first, say, print);
  if (build.status !== 'succeeded') throw buildFailed(build);
  say(`build ${build.id} succeeded: artifact ${shortDigest(build.artifactDigest ?? '')}`);
  if (own) {
    // The builder's choice: it read the same zectre.json, Procfile and package.json, and --cmd went to it as config.start.
    const command = build.plan?.start || start?.command;
    if (!command) throw new CliError(`build ${build.id} succeeded but nothing says how to start the app: pass --cmd "..."`);
    const body: CreateDeployment = { artifact: build.artifactDigest!, command, ...settings };
    return client.post<Deployment>(`/api/v1/projects/${encodeURIComponent(opts.project)}/deployments`, body);
  }
  return deploymentOf(client, build, say);
}

/** Which of this deploy's flags only the CLI can apply (the build API takes none of them), or null. */
function ownSettings(opts: DeployOptions, settings: Settings): string | null {
  const given = [
    opts.env && Object.keys(opts.env).length ? '--env' : null,
    opts.replicas === undefined ? null : '--replicas',
    opts.deadline === undefined ? null : '--deadline',
    settings.resources ? 'resources (--cpu/--memory or zectre.json)' : null,
    settings.healthCheck ? "zectre.json's healthcheck" : null,
  ].filter(Boolean);
  return given.length ? given.join(', ') : null;
}

/** The deployment the edge made from a succeeded build (it sets deploymentId as it creates it). */
async function deploymentOf(client: ApiClient, succeeded: Build, say: Say): Promise<Deployment> {
  let build = succeeded;
  const giveUpAt = Date.now() + DEPLOYMENT_WAIT_MS;
  while (!build.deploymentId) {
    if (Date.now() > giveUpAt) {
      throw new CliError(`build ${build.id} succeeded but no deployment was made from it: see zectre builds list ${build.project}`, 1, 'timeout');
    }
    await sleep(POLL_MS);
    build = await getBuild(client, build.id);
    if (build.status !== 'succeeded') throw buildFailed(build); // the edge could not deploy it (e.g. step deploy)
  }
  say(`deployment ${build.deploymentId} created from build ${build.id}`);
  return client.get<Deployment>(`/api/v1/deployments/${encodeURIComponent(build.deploymentId)}`);
}

/**
 * For a remote build the builder picks the start command (zectre.json, Procfile, npm start) from
 * the source; shown here when it can be known, left to the builder when not (e.g. a package.json
 * that the build step writes, or a build.start in zectre.json).
 */
async function startOnBuilder(root: string, cmd: string | undefined, decision: BuildDecision): Promise<StartCommand | null> {
  if (!cmd && decision.config?.start) return { command: decision.config.start, source: 'zectre.json' };
  try {
    return await detectStartCommand(root, cmd);
  } catch (err) {
    if (err instanceof CliError) return null;
    throw err;
  }
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
