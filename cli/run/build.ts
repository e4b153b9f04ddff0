/**
 * A remote build as `zectre deploy` and `zectre builds logs -f` show it: its plan, step, cache hit or
 * miss and log lines as they come (long-polled), and how it ended. Leaving (Ctrl-C, a lost
 * connection) never cancels it: the build runs on the server, `zectre builds cancel` stops it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BuildPlan } from '../../protocol/index.js';
import type { ApiClient } from '../api-client.js';
import { buildLogs, createBuild, getBuild, isFinished, LOGS_WAIT_SECONDS, type Build, type BuildLogLine, type CreateBuild } from '../build-api.js';
import { ApiError, CliError, ConnectionError } from '../errors.js';
import { shortDigest } from '../output.js';
import type { Say } from '../rollout.js';

/** How often the build itself (step, cache, status) is fetched while its lines stream. */
const REFRESH_MS = 1_000;
/** A lost API is retried this long before the CLI gives up following (the build goes on regardless). */
const OFFLINE_GIVE_UP_MS = 120_000;
const RETRY_MS = 1_000;
/** Lines of a failed build's error shown under "build failed". */
const ERROR_LINES = 30;

export const followHint = (id: string) => `the build continues on the server; follow it with zectre builds logs ${id} -f`;

/** POST the build; a missing builder becomes an error that says both ways out. */
export async function startBuild(client: ApiClient, project: string, body: CreateBuild): Promise<Build> {
  try {
    return await createBuild(client, project, body);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'no_builder') {
      throw new CliError(`cannot build remotely: ${err.message}; or install the dependencies here and deploy with --no-build`, 1, 'no_builder');
    }
    throw err;
  }
}

/**
 * Streams the build from its first line until it ends and returns its final state. Ctrl-C stops
 * following (exit 130) with the hint to follow it again; the build itself is not touched.
 */
export async function watchBuild(client: ApiClient, first: Build, say: Say, print: (line: BuildLogLine) => void): Promise<Build> {
  const stop = new AbortController();
  const interrupted = () => new CliError(`stopped following build ${first.id}: ${followHint(first.id)}`, 130, 'interrupted');
  // Ctrl-C ends the wait itself, not only through the request's signal: a fetch aborted at the wrong
  // moment was seen never to settle, and with nothing left in the event loop Node exited with 13.
  const onInterrupt = new Promise<never>((_, reject) => stop.signal.addEventListener('abort', () => reject(interrupted()), { once: true }));
  onInterrupt.catch(() => undefined);
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  const view = new BuildView(say);
  try {
    return await Promise.race([followBuild(client, first, { say, print, onBuild: (b) => view.show(b), signal: stop.signal }), onInterrupt]);
  } catch (err) {
    if (stop.signal.aborted) throw interrupted();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export interface FollowOptions {
  say: Say;
  print: (line: BuildLogLine) => void;
  /** Each fresh state of the build, to show what changed. */
  onBuild?: (build: Build) => void;
  signal?: AbortSignal;
  /** Start after this sequence number (0: from the first line). */
  after?: number;
}

/** Long-polls the build's log until `done`, fetching the build on the way for its step and cache; returns the ended build. */
export async function followBuild(client: ApiClient, first: Build, opts: FollowOptions): Promise<Build> {
  const retry = retrying(first.id, opts);
  let build = first;
  opts.onBuild?.(build);
  let after = opts.after ?? 0;
  let refreshed = Date.now();
  for (;;) {
    const page = await retry(() => buildLogs(client, first.id, after, LOGS_WAIT_SECONDS, opts.signal));
    for (const line of page.lines) {
      opts.print(line);
      after = Math.max(after, line.seq);
    }
    // The builder says what it starts in system lines: the step (and cache) changed with them.
    if (page.done || page.lines.some((l) => l.stream === 'system') || Date.now() - refreshed >= REFRESH_MS) {
      build = await retry(() => getBuild(client, first.id, opts.signal));
      refreshed = Date.now();
      opts.onBuild?.(build);
    }
    if (page.done && isFinished(build.status)) return build;
    // A server that answers at once with nothing new (no long-poll) must not be asked in a tight loop.
    if (page.lines.length === 0) await sleep(RETRY_MS, undefined, { signal: opts.signal });
  }
}

/** Runs a request again while the API is unreachable (a control-plane restart), up to OFFLINE_GIVE_UP_MS. */
function retrying(id: string, opts: FollowOptions) {
  let offlineSince: number | null = null;
  return async <T>(request: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        const answer = await request();
        offlineSince = null;
        return answer;
      } catch (err) {
        if (!(err instanceof ConnectionError)) throw err;
        if (offlineSince === null) {
          offlineSince = Date.now();
          opts.say(`${err.message}; retrying (${followHint(id)})`);
        } else if (Date.now() - offlineSince > OFFLINE_GIVE_UP_MS) {
          throw new CliError(`${err.message}; gave up following build ${id}: ${followHint(id)}`, 1, 'disconnected');
        }
        await sleep(RETRY_MS, undefined, { signal: opts.signal });
      }
    }
  };
}

/** Prints what changed between states of a build: queued, the node, the plan, each step, the cache. */
export class BuildView {
  private shown: Build | null = null;

  constructor(private readonly say: Say) {}

  show(build: Build): void {
    const before = this.shown;
    this.shown = build;
    if (!before) this.say(`build ${build.id} ${build.status} (source ${shortDigest(build.sourceDigest)})`);
    if (build.node && build.node !== before?.node) this.say(`building on ${build.node}`);
    if (build.plan && !before?.plan) for (const line of planLines(build.plan)) this.say(line);
    if (build.cache && build.cache !== before?.cache) this.say(cacheLine(build));
    if (build.step && build.step !== before?.step) this.say(`step: ${build.step}`);
  }
}

/** What the builder runs, step by step (`-` for a step it skips). */
export function planLines(plan: BuildPlan): string[] {
  const tool = plan.packageManager === 'none' ? '' : `${plan.packageManager}, `;
  return [
    `build plan (${tool}Node.js ${plan.nodeVersion}):`,
    `  install  ${plan.install ?? '-'}`,
    `  build    ${plan.build ?? '- (no build script)'}`,
    `  prune    ${plan.prune ?? '-'}`,
    `  start    ${plan.start}`,
  ];
}

function cacheLine(build: Build): string {
  const key = build.cacheKey ? ` (key ${build.cacheKey.length > 24 ? `${build.cacheKey.slice(0, 24)}…` : build.cacheKey})` : '';
  return build.cache === 'hit'
    ? `cache: hit${key}: packages come from the cache`
    : `cache: miss${key}: packages are downloaded this time and cached for the next build`;
}

/** `  line` for the build's output, `--> line` for what the builder says itself; stderr red on a terminal. */
export function formatBuildLine(line: BuildLogLine, tty: boolean): string {
  if (line.stream === 'system') return `--> ${line.line}`;
  return line.stream === 'stderr' && tty ? `\x1b[31m  ${line.line}\x1b[0m` : `  ${line.line}`;
}

/** A build that did not succeed: its error (failing step, last lines) on stderr, then one error line. */
export function buildFailed(build: Build): CliError {
  const lines = (build.error ?? '').split('\n').filter((l) => l.trim() !== '');
  const step = build.step ? ` at step ${build.step}` : '';
  const what = build.status === 'timed_out' ? 'ran over its time limit' : build.status === 'canceled' ? 'was canceled' : 'failed';
  if (lines.length > 1) process.stderr.write(`build ${build.id} ${what}${step}:\n${lines.slice(-ERROR_LINES).map((l) => `  ${l}`).join('\n')}\n`);
  const summary = lines[0] ?? 'no error given';
  return new CliError(`build ${build.id} ${what}${step}: ${summary} (full log: zectre builds logs ${build.id})`, 1, `build_${build.status}`);
}
