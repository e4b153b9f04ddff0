/**
 * The build plan of a source tree: which package manager (from the lockfile), the install, build and
 * prune commands, and the start command. Pure: it reads the files it is handed, nothing else.
 */
import type { BuildConfig, BuildPlan } from '../../protocol/index.js';
import { satisfies } from './node-range.js';

export interface SourceFacts {
  /** Names present at the top of the source tree. */
  files: Set<string>;
  packageJson?: string;
  zectreJson?: string;
  procfile?: string;
}

export class PlanError extends Error {}

const LOCKFILES = [
  { file: 'package-lock.json', pm: 'npm', install: 'npm ci' },
  { file: 'npm-shrinkwrap.json', pm: 'npm', install: 'npm ci' },
  { file: 'pnpm-lock.yaml', pm: 'pnpm', install: 'pnpm install --frozen-lockfile' },
  { file: 'yarn.lock', pm: 'yarn', install: 'yarn install --immutable' },
] as const;

const PRUNE = { npm: 'npm prune --omit=dev', pnpm: 'pnpm prune --prod', yarn: null, none: null } as const;

/** The lockfile the plan installs from (its bytes key the cache), or null. */
export function lockfileOf(facts: SourceFacts): string | null {
  return LOCKFILES.find((l) => facts.files.has(l.file))?.file ?? null;
}

export function detectPlan(facts: SourceFacts, config: BuildConfig, nodeVersion: string): BuildPlan {
  const pkg = facts.packageJson === undefined ? undefined : parseJson<{ scripts?: Record<string, string>; engines?: { node?: string } }>('package.json', facts.packageJson);
  const zectre = facts.zectreJson === undefined ? {} : parseJson<{ start?: string; build?: { start?: string; command?: string; install?: string } }>('zectre.json', facts.zectreJson);
  // The request's config (the CLI sends zectre.json's "build") wins; the source's own zectre.json
  // fills in for a build requested through the API alone. Build vars and limits come only from the request.
  const own = zectre.build ?? {};
  config = {
    ...(typeof own.command === 'string' ? { command: own.command } : {}),
    ...(typeof own.install === 'string' ? { install: own.install } : {}),
    ...(typeof own.start === 'string' ? { start: own.start } : {}),
    ...config,
  };
  const lock = LOCKFILES.find((l) => facts.files.has(l.file));
  const pm = pkg ? (lock?.pm ?? 'npm') : 'none';
  const engines = pkg?.engines?.node;
  if (engines) {
    let ok: boolean;
    try {
      ok = satisfies(nodeVersion, engines);
    } catch {
      throw new PlanError(`package.json engines.node "${engines}" is not a version range this builder can read`);
    }
    if (!ok) throw new PlanError(`package.json engines.node wants "${engines}" but this builder runs Node ${nodeVersion}; change engines.node or use a builder with a matching Node`);
  }
  const run = (script: string) => (pm === 'yarn' ? `yarn run ${script}` : pm === 'pnpm' ? `pnpm run ${script}` : `npm run ${script}`);
  const install = config.install ?? (pkg ? (lock?.install ?? 'npm install --no-audit --no-fund') : null);
  const build = config.command ?? (pkg?.scripts?.build ? run('build') : null);
  const start = config.start ?? (typeof zectre.start === 'string' ? zectre.start : undefined) ?? procfileWeb(facts.procfile) ?? (pkg ? 'npm start' : null);
  if (!start) throw new PlanError('no start command: add "start" to zectre.json, a "web:" line to a Procfile, or a package.json with a start script');
  return { packageManager: pm, nodeVersion, install, build, prune: pkg ? PRUNE[pm] : null, start };
}

function procfileWeb(text: string | undefined): string | undefined {
  const line = text?.split('\n').find((l) => /^web:/.test(l));
  return line?.slice(4).trim() || undefined;
}

function parseJson<T>(name: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new PlanError(`${name} is not valid JSON: ${(err as Error).message}`);
  }
}
