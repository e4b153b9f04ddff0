/**
 * `npm run bench:build`: what remote builds (issue 13) cost and save, through the real CLI against a
 * local stack whose agent is a builder (PostgreSQL at 127.0.0.1:5432 if it answers, else PGlite).
 *
 * 1. Cold vs warm build of the same app: an Express + TypeScript app (`build` runs tsc) with a real
 *    package-lock.json from the npm registry, deployed from source twice (the second deploy changes
 *    the source, not the lockfile: a cache hit).
 * 2. An app with ~150 MB of node_modules: installed here and uploaded as-is (--no-build), vs its
 *    source built remotely (cold, then warm).
 * Figures: command to live as the CLI sees it; the build's own time (server timestamps); npm ci's
 * own "added N packages in T".
 */
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Build } from '../protocol/index.js';
import { installAndBuild, lockDependencies, writeTsApp } from './bench-build-app.js';
import { buildCli } from './build-cli.js';
import { localDatabaseKind } from './database-kind.js';
import { startStack } from './stack.js';
import { timedCli } from './timed-cli.js';

const CLI = await buildCli();
/** Room for the as-is upload of the heavy app (the default limit is 100 MiB). */
const ARTIFACT_LIMIT = 1024 * 1024 * 1024;

interface Deploy {
  /** Command to "live at", ms. */
  total: number;
  /** Start to end of the build on the builder (server timestamps), ms; null when nothing was built. */
  build: number | null;
  /** npm ci's own figure, ms. */
  install: number | null;
  cache: string | null;
  /** Until the CLI printed "uploaded" or "already uploaded" (pack + upload), ms. */
  upload: number;
  uploadedBytes: string;
  /** The packed size the CLI reported (what a first upload sends). */
  packedBytes: number;
}

const dir = await mkdtemp(join(tmpdir(), 'zectre-bench-build-'));
const usePostgres = (await localDatabaseKind()) === 'postgres';
console.log(`starting a stack (${usePostgres ? 'PostgreSQL' : 'PGlite'}) whose agent is a builder…`);
const stack = await startStack({
  dir: join(dir, 'state'),
  db: usePostgres ? { kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/zectre_bench_build_${process.pid}`, throwaway: true } : { kind: 'pglite', dataDir: join(dir, 'pglite') },
  agentEnv: { ZECTRE_AGENT_LABELS: 'builder', ZECTRE_AGENT_BUILD_POLL_MS: '250' },
  workerVars: { MAX_ARTIFACT_BYTES: String(ARTIFACT_LIMIT) },
});
const env = { ...process.env, ZECTRE_API_URL: stack.apiUrl, ZECTRE_TOKEN: stack.adminToken };
try {
  // 1. Cold vs warm build.
  const ts = join(dir, 'ts-app');
  await writeTsApp(ts, { version: 'v1' });
  console.log('resolving package-lock.json for the TypeScript app from the npm registry…');
  await lockDependencies(ts);
  await cli(['projects', 'create', 'bench-ts']);
  const cold = await deploy(ts, 'bench-ts', []);
  report('TypeScript app, cold build (cache miss)', cold);
  await writeTsApp(ts, { version: 'v2' });
  const warm = await deploy(ts, 'bench-ts', []);
  report('TypeScript app, warm build (cache hit)', warm);

  // 2. ~150 MB of node_modules: as-is vs built remotely.
  const heavySource = join(dir, 'heavy-source');
  const heavyInstalled = join(dir, 'heavy-installed');
  await writeTsApp(heavySource, { version: 'v1', heavy: true });
  console.log('resolving package-lock.json for the heavy app…');
  await lockDependencies(heavySource);
  await cp(heavySource, heavyInstalled, { recursive: true });
  console.log('installing its node_modules here (npm ci + tsc), as a user uploading as-is would…');
  await installAndBuild(heavyInstalled);
  const { bytes, files } = await treeSize(join(heavyInstalled, 'node_modules'));
  console.log(`node_modules: ${(bytes / 1e6).toFixed(0)} MB in ${files} files`);
  await cli(['projects', 'create', 'bench-heavy-asis']);
  await cli(['projects', 'create', 'bench-heavy-built']);
  const asIs = await deploy(heavyInstalled, 'bench-heavy-asis', ['--no-build']);
  report('heavy app uploaded as-is (--no-build)', asIs);
  const builtCold = await deploy(heavySource, 'bench-heavy-built', []);
  report('heavy app built remotely, cold', builtCold);
  await writeTsApp(heavySource, { version: 'v2', heavy: true });
  const builtWarm = await deploy(heavySource, 'bench-heavy-built', []);
  report('heavy app built remotely, warm', builtWarm);

  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  console.log('\nsummary');
  console.log(`  TypeScript app: cold ${fmt(cold.total)} -> warm ${fmt(warm.total)} to live (${ratio(warm.total, cold.total)}); ` +
    `build ${fmtOrDash(cold.build)} -> ${fmtOrDash(warm.build)}; npm ci ${fmtOrDash(cold.install)} -> ${fmtOrDash(warm.install)}`);
  console.log(`  ${(bytes / 1e6).toFixed(0)} MB node_modules: as-is ${fmt(asIs.total)} (pack+upload ${fmt(asIs.upload)}, ${asIs.uploadedBytes}) vs built remotely ` +
    `cold ${fmt(builtCold.total)} (${ratio(builtCold.total, asIs.total)}), warm ${fmt(builtWarm.total)} (${ratio(builtWarm.total, asIs.total)}); ` +
    `source upload ${fmt(builtWarm.upload)} (${builtWarm.uploadedBytes})`);
  // On one machine the upload is a loopback copy; what a deploy sends over a real uplink is what changes.
  console.log(`  sent by the CLI per deploy: ${(asIs.packedBytes / 1e6).toFixed(1)} MB as-is vs ${(builtCold.packedBytes / 1e3).toFixed(1)} KB of source ` +
    `(${Math.round(asIs.packedBytes / builtCold.packedBytes)}x less); at 20 Mbit/s that upload alone is ${(asIs.packedBytes * 8 / 20e6).toFixed(0)} s vs ` +
    `${(builtCold.packedBytes * 8 / 20e6).toFixed(2)} s (computed, not measured)`);
} finally {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
}

function report(what: string, d: Deploy): void {
  console.log(`${what}: ${fmt(d.total)} command to live; pack+upload ${fmt(d.upload)} (${d.uploadedBytes}); ` +
    `build ${fmtOrDash(d.build)}, npm ci ${fmtOrDash(d.install)}, cache ${d.cache ?? '-'}`);
}

/** One `zectre deploy` through the CLI, split by its own progress lines and the build's server times. */
async function deploy(appDir: string, project: string, flags: string[]): Promise<Deploy> {
  const { marks } = await cli(['deploy', appDir, '--project', project, '--json', ...flags]);
  const at = (re: RegExp) => marks.find((m) => re.test(m.line));
  const uploaded = at(/^uploaded |^artifact .* already uploaded/);
  const built = /^building remotely/.test(marks[0]?.line ?? '');
  let build: Build | null = null;
  if (built) {
    const { stdout } = await cli(['builds', 'list', project, '--json']);
    build = (JSON.parse(stdout) as { builds: Build[] }).builds[0] ?? null;
  }
  const npm = marks.map((m) => /added \d+ packages.* in ([\d.]+)(m?s)/.exec(m.line)).find(Boolean);
  return {
    total: at(/^live at/)?.t ?? NaN,
    build: build?.startedAt && build.finishedAt ? Date.parse(build.finishedAt) - Date.parse(build.startedAt) : null,
    install: npm ? Number(npm[1]) * (npm[2] === 's' ? 1000 : 1) : null,
    cache: build?.cache ?? null,
    upload: uploaded?.t ?? NaN,
    uploadedBytes: /\(([\d.]+ [KMG]?B)\)/.exec(uploaded?.line ?? '')?.[1] ?? 'not uploaded again',
    packedBytes: bytesOf(/^packed .* into ([\d.]+ [KMG]?B)$/.exec(at(/^packed /)?.line ?? '')?.[1] ?? ''),
  };
}

async function treeSize(path: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { bytes, files };
}

/** `49.0 MB` (cli/output.ts formatBytes) back to bytes. */
function bytesOf(text: string): number {
  const m = /^([\d.]+) (B|KB|MB|GB)$/.exec(text);
  return m ? Number(m[1]) * { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'B'] : NaN;
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function fmtOrDash(ms: number | null): string {
  return ms === null ? '-' : fmt(ms);
}

function cli(args: string[]) {
  return timedCli(CLI, args, env);
}
