/**
 * Runs one build on this builder: download the source, unpack it into a fresh directory owned by the
 * build's own uid, plan, restore the package manager cache, install / build / prune as that uid with
 * a clean environment and limits, pack the result with its manifest, upload it, report the outcome.
 * The agent's credential and state are never in reach of the build: its directory is outside the
 * state directory, its environment holds only PATH, HOME, cache dirs and the build vars.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, writeFile, chmod, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from 'tar';
import { BUILD_DEFAULT_MEMORY_MB, BUILD_DEFAULT_TIMEOUT_S, BUILD_MANIFEST, type BuildAssignment, type BuildManifest,
  type BuildPlan, type BuildReport } from '../../protocol/index.js';
import type { TaskUser, TaskUsers } from '../task-users.js';
import { unpack, type UnpackLimits } from '../unpack.js';
import { removeWorkRoot } from '../workspace.js';
import { packTree, sourceTimes } from './pack.js';
import { detectPlan, lockfileOf, PlanError, type SourceFacts } from './plan.js';
import { BuildReporter } from './reporter.js';
import { runStep, type RunningStep } from './step.js';
import { download, upload } from './transfer.js';
import { BUILDER_VERSION } from './version.js';

export interface RunnerDeps {
  apiUrl: string;
  credential: () => string;
  /** Root of build directories (0711, root-owned, outside the state directory). */
  buildRoot: string;
  users: TaskUsers;
  unpackLimits: UnpackLimits;
  /** Largest cache blob uploaded (the registry's artifact limit). */
  maxCacheBytes: number;
  log: (msg: string) => void;
}

/** An error of a step, with what the user sees. */
class StepError extends Error {}

const TAIL_LINES = 20;

export class BuildRun {
  private step = 'download';
  private current: RunningStep | undefined;
  private ended: 'canceled' | 'timed_out' | 'stopped' | undefined;
  private readonly reporter: BuildReporter;
  private readonly secrets: string[];
  private readonly timeoutS: number;
  private readonly memoryMb: number;

  constructor(
    private readonly build: BuildAssignment,
    private readonly deps: RunnerDeps,
  ) {
    this.reporter = new BuildReporter(`${deps.apiUrl}/scheduler/v1/builds/${build.id}/report`, deps.credential, () => this.abort('canceled'), deps.log, build.logSeq ?? 0);
    // Longest first, so a secret containing another is masked whole.
    this.secrets = [...new Set(build.secrets)].sort((a, b) => b.length - a.length);
    this.timeoutS = build.config.timeoutSeconds ?? BUILD_DEFAULT_TIMEOUT_S;
    this.memoryMb = build.config.memoryMb ?? BUILD_DEFAULT_MEMORY_MB;
  }

  /** Stops the build: the running step's process group is killed. */
  abort(why: 'canceled' | 'timed_out' | 'stopped'): void {
    this.ended ??= why;
    this.current?.kill();
  }

  async run(): Promise<void> {
    const dir = join(this.deps.buildRoot, this.build.id);
    const timer = setTimeout(() => this.abort('timed_out'), this.timeoutS * 1000);
    this.reporter.start();
    let result: NonNullable<BuildReport['result']>;
    try {
      result = { status: 'succeeded', artifactDigest: await this.steps(dir) };
    } catch (err) {
      const message = err instanceof StepError || err instanceof PlanError ? err.message : `step ${this.step}: ${(err as Error).message}`;
      result = this.ended === 'timed_out'
        ? { status: 'timed_out', error: `the build exceeded its time limit of ${this.timeoutS} s during step ${this.step} and was killed (raise build.timeoutSeconds in zectre.json)` }
        : this.ended === 'canceled'
          ? { status: 'canceled', error: `canceled during step ${this.step}` }
          : this.ended === 'stopped'
            ? { status: 'failed', error: `the builder agent stopped during step ${this.step}; run the build again` }
            : { status: 'failed', error: message.slice(0, 8_000) };
      this.reporter.system(result.error);
    } finally {
      clearTimeout(timer);
    }
    this.deps.log(`build ${this.build.id} of ${this.build.project}: ${result.status}`);
    await this.reporter.finish(result).catch((err: Error) => this.deps.log(`build ${this.build.id}: the outcome could not be reported: ${err.message}`));
    await removeWorkRoot(dir, this.deps.log);
  }

  private async steps(dir: string): Promise<string> {
    const user = this.deps.users.userFor(`build:${this.build.projectId}`);
    await removeWorkRoot(dir, this.deps.log);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(dir, 0o711); // the agent's umask is 077: the build's uid must pass through to its own directories
    const app = join(dir, 'app');
    const home = join(dir, 'home');
    const cache = join(dir, 'cache');
    const tmp = join(dir, 'tmp');

    const source = join(dir, 'source.tar.gz');
    this.reporter.system(`building ${this.build.sourceDigest.slice(0, 19)}… on this builder (limits: ${this.timeoutS} s, ${this.memoryMb} MiB)`);
    if (!(await download(this.url('source'), this.deps.credential(), source))) throw new StepError('step download: the source artifact is gone from the registry');
    await unpack(source, app, { limits: this.deps.unpackLimits, ...(user ? { owner: user } : {}) });
    for (const d of [home, cache, tmp]) await ownDir(d, user);
    const { times, epoch } = await sourceTimes(app);

    await this.progress('plan');
    const facts = await readFacts(app);
    const plan = detectPlan(facts, this.build.config, process.version);
    for (const [name, command] of [['install', plan.install], ['build', plan.build], ['prune', plan.prune], ['start', plan.start]] as const) {
      this.reporter.system(`plan: ${name}: ${command ?? '(none)'}`);
    }
    const lockfile = lockfileOf(facts);
    const cacheKey = lockfile
      ? `sha256:${createHash('sha256').update(await readFile(join(app, lockfile))).update(`\n${plan.packageManager}\n${process.version}\n${BUILDER_VERSION}`).digest('hex')}`
      : null;
    await this.reporter.update({ plan, ...(cacheKey ? { cacheKey } : {}) });

    let hit = false;
    if (cacheKey) {
      await this.progress('cache');
      const blob = join(dir, 'cache.tar.gz');
      hit = await download(this.url('cache'), this.deps.credential(), blob).catch((err: Error) => {
        this.reporter.system(`cache: could not be fetched (${err.message}); building without it`);
        return false;
      });
      if (hit) await unpack(blob, cache, { limits: this.deps.unpackLimits, ...(user ? { owner: user } : {}) });
      this.reporter.system(`cache: ${hit ? 'hit' : 'miss'} (key ${cacheKey.slice(7, 19)})`);
      await this.reporter.update({ cache: hit ? 'hit' : 'miss' });
    }

    const env = this.environment(plan.packageManager, home, cache, tmp);
    for (const name of ['install', 'build', 'prune'] as const) {
      const command = plan[name];
      if (!command) continue;
      await this.progress(name);
      await this.command(name, command, app, env, user);
      if (name === 'install' && cacheKey && !hit) await this.saveCache(cache);
    }

    await this.progress('pack');
    const manifest: BuildManifest = { start: plan.start, nodeVersion: process.version, sourceDigest: this.build.sourceDigest, cacheKey: cacheKey ?? '', builderVersion: BUILDER_VERSION };
    await writeFile(join(app, BUILD_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    times.set(BUILD_MANIFEST, epoch); // same bytes every time: give it the source epoch
    const packed = await packTree(app, times, epoch);
    this.reporter.system(`packed ${(packed.data.length / 1048576).toFixed(1)} MiB: ${packed.digest}`);

    await this.progress('upload');
    const stored = await upload<{ digest: string }>(this.url('artifact'), this.deps.credential(), packed.data);
    if (stored.digest !== packed.digest) throw new StepError(`step upload: the registry stored ${stored.digest}, not ${packed.digest}`);
    return packed.digest;
  }

  private async command(name: string, command: string, cwd: string, env: Record<string, string>, user: TaskUser | undefined): Promise<void> {
    if (this.ended) throw new StepError(this.ended);
    this.reporter.system(`$ ${command}`);
    const tail: string[] = [];
    this.current = runStep({
      command, cwd, env, user, memoryMb: this.memoryMb, cpuSeconds: this.timeoutS,
      onLine: (stream, raw) => {
        const line = this.mask(raw);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        this.reporter.line(stream, line);
      },
    });
    const { code, signal } = await this.current.done;
    this.current = undefined;
    if (this.ended) throw new StepError(this.ended);
    if (code !== 0) {
      const how = signal ? `was killed by ${signal}${signal === 'SIGKILL' || signal === 'SIGSEGV' ? ` (memory limit ${this.memoryMb} MiB?)` : ''}` : `exited with code ${code}`;
      throw new StepError(`step ${name} failed: \`${command}\` ${how}${tail.length ? `; last lines:\n${tail.join('\n')}` : ''}`);
    }
  }

  private async saveCache(cache: string): Promise<void> {
    try {
      const entries = await readdir(cache);
      if (!entries.length) return; // nothing was downloaded
      const chunks: Buffer[] = [];
      for await (const chunk of create({ cwd: cache, gzip: true, portable: true }, entries)) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      if (data.length > this.deps.maxCacheBytes) {
        this.reporter.system(`cache: ${(data.length / 1048576).toFixed(0)} MiB is over the registry's limit; not saved`);
        return;
      }
      await upload(this.url('cache'), this.deps.credential(), data);
      // The file count shows at a glance that the downloads (not just an index) were kept.
      const files = (await readdir(cache, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
      this.reporter.system(`cache: saved (${(data.length / 1048576).toFixed(1)} MiB, ${files} files)`);
    } catch (err) {
      this.reporter.system(`cache: not saved (${(err as Error).message})`);
    }
  }

  /**
   * Only what a build needs: no agent variable, no credential; build vars first, so they cannot replace
   * these. Each package manager gets only its own cache settings (npm warns `Unknown env config` on every
   * step for another manager's npm_config_* key), pointed into the cache dir that is restored and saved,
   * and told to prefer that cache: a restored cache then installs without revalidating every package
   * with the registry (npm alone spent as long warm as cold doing that).
   */
  private environment(pm: BuildPlan['packageManager'], home: string, cache: string, tmp: string): Record<string, string> {
    return {
      ...this.build.buildEnv,
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      TMPDIR: tmp,
      CI: 'true',
      ...packageManagerEnv(pm, cache, tmp),
    };
  }

  private mask(line: string): string {
    for (const secret of this.secrets) if (line.includes(secret)) line = line.split(secret).join('[redacted]');
    return line;
  }

  private async progress(step: string): Promise<void> {
    if (this.ended) throw new StepError(this.ended);
    this.step = step;
    await this.reporter.update({ step });
  }

  private url(what: 'source' | 'cache' | 'artifact'): string {
    return `${this.deps.apiUrl}/scheduler/v1/builds/${this.build.id}/${what}`;
  }
}

/** The cache variables of one package manager (exported for its test). */
export function packageManagerEnv(pm: BuildPlan['packageManager'], cache: string, tmp: string): Record<string, string> {
  switch (pm) {
    case 'npm':
      return {
        npm_config_cache: join(cache, 'npm'),
        npm_config_prefer_offline: 'true', // cached tarballs and metadata are used without a registry round trip
        npm_config_logs_dir: join(tmp, 'npm-logs'), // not in the cache blob
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
      };
    case 'pnpm':
      // pnpm keeps its store under XDG_DATA_HOME and its metadata under XDG_CACHE_HOME; it reads
      // npm_config_prefer_offline itself.
      return { XDG_DATA_HOME: join(cache, 'data'), XDG_CACHE_HOME: join(cache, 'xdg'), npm_config_prefer_offline: 'true' };
    case 'yarn':
      // Classic reads YARN_CACHE_FOLDER; Berry's global cache (its default) lives in YARN_GLOBAL_FOLDER.
      // Both install from a cached archive without fetching it.
      return { YARN_CACHE_FOLDER: join(cache, 'yarn'), YARN_GLOBAL_FOLDER: join(cache, 'yarn-global'), XDG_CACHE_HOME: join(cache, 'xdg') };
    default:
      return {};
  }
}

async function ownDir(path: string, user: TaskUser | undefined): Promise<void> {
  await mkdir(path, { mode: 0o700 });
  if (user) await chown(path, user.uid, user.gid);
  await chmod(path, 0o700);
}

/** The top-level files a plan reads; only regular files (a symlink to a root-only file must not be read as root). */
async function readFacts(app: string): Promise<SourceFacts> {
  const files = new Set(await readdir(app));
  const read = async (name: string) => {
    if (!files.has(name)) return undefined;
    const s = await lstat(join(app, name));
    if (!s.isFile()) throw new PlanError(`${name} must be a regular file`);
    if (s.size > 1024 * 1024) throw new PlanError(`${name} is over 1 MiB`);
    return readFile(join(app, name), 'utf8');
  };
  const facts: SourceFacts = { files };
  const pkg = await read('package.json');
  const zectre = await read('zectre.json');
  const procfile = await read('Procfile');
  if (pkg !== undefined) facts.packageJson = pkg;
  if (zectre !== undefined) facts.zectreJson = zectre;
  if (procfile !== undefined) facts.procfile = procfile;
  return facts;
}

