/**
 * When `zectre deploy` builds remotely (issue 13.2): the decision and the reason the deploy output
 * gives for it, and zectre.json's "build" section (the contract's BuildConfig), checked before
 * anything is packed or sent.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildConfig } from '../protocol/index.js';
import { CliError } from './errors.js';
import { readJsonFile } from './read-file.js';

/** In the order a package manager would pick them when a tree has several (npm's own first). */
export const LOCKFILES = ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'] as const;

/** zectre.json "build": the API's BuildConfig, and a misspelt key is an error rather than silently ignored. */
export const BuildConfigJson = BuildConfig.strict();

export interface BuildDecision {
  build: boolean;
  /** Why, in words for the deploy output. */
  reason: string;
  /** The lockfile found, if any. */
  lockfile: string | null;
  /** zectre.json's build section (null when it has none). */
  config: BuildConfig | null;
}

/**
 * `flag`: --build true, --no-build false, neither undefined. Without a flag: zectre.json's build
 * section builds; a lockfile with no node_modules beside it builds (the dependencies were never
 * installed here, so uploading as-is would ship an app that cannot start); anything else is uploaded
 * as it is, which is what a deploy did before builds existed.
 */
export async function decideBuild(dir: string, flag?: boolean): Promise<BuildDecision> {
  const config = await readBuildConfig(dir);
  const lockfile = await findLockfile(dir);
  const installed = await isDirectory(join(dir, 'node_modules'));
  const base = { lockfile, config };
  if (flag === true) return { ...base, build: true, reason: '--build given' };
  if (flag === false) return { ...base, build: false, reason: '--no-build given' };
  if (config) return { ...base, build: true, reason: 'zectre.json has a "build" section (use --no-build to upload as-is)' };
  if (lockfile && !installed) {
    return { ...base, build: true, reason: `${lockfile} found and no node_modules (use --no-build to upload as-is)` };
  }
  if (lockfile) return { ...base, build: false, reason: `node_modules is installed (use --build to install and build on a builder instead)` };
  return { ...base, build: false, reason: `no lockfile (${LOCKFILES.join(', ')}) (use --build to build remotely anyway)` };
}

/** The line the deploy prints: "building remotely: …" or "deploying as-is: …". */
export function describeDecision(decision: BuildDecision): string {
  return `${decision.build ? 'building remotely' : 'deploying as-is'}: ${decision.reason}`;
}

async function findLockfile(dir: string): Promise<string | null> {
  for (const name of LOCKFILES) if (await isFile(join(dir, name))) return name;
  return null;
}

/** zectre.json's "build" object, or null when there is no zectre.json or no "build" in it; a clear error when it is wrong. */
export async function readBuildConfig(dir: string): Promise<BuildConfig | null> {
  const path = join(dir, 'zectre.json');
  const json = await readJsonFile(path);
  const build = (json as { build?: unknown } | null)?.build;
  if (build === undefined) return null;
  if (build === null || typeof build !== 'object' || Array.isArray(build)) {
    throw new CliError(`${path}: build: expected an object such as {"command": "npm run build"}`);
  }
  const parsed = BuildConfigJson.safeParse(build);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = ['build', ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    throw new CliError(`${path}: build: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}; the keys are ${Object.keys(BuildConfigJson.shape).join(', ')}`);
  }
  throw new CliError(`${path}: ${where}: ${issue.message}`);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}
