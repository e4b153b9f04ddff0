/**
 * `npm run bench:deploy`: how long `zectre deploy examples/hello` takes from command to live, and
 * where the time goes. Starts a stack (PostgreSQL at 127.0.0.1:5432 if it answers, else PGlite),
 * runs the real CLI N times, and splits each run by the CLI's own progress lines and the
 * server's timestamps.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deployment } from '../protocol/index.js';
import { buildCli } from './build-cli.js';
import { localDatabaseKind } from './database-kind.js';
import { ROOT } from './root.js';
import { startStack } from './stack.js';
import { timedCli } from './timed-cli.js';

const RUNS = Number(process.env.RUNS ?? 5);
const CLI = await buildCli();

interface Run {
  total: number;
  boot: number;
  upload: number;
  create: number;
  rollout: number;
  serverCreateToLive: number;
}

const dir = await mkdtemp(join(tmpdir(), 'zectre-bench-'));
const usePostgres = (await localDatabaseKind()) === 'postgres';
const stack = await startStack({
  dir: join(dir, 'state'),
  db: usePostgres ? { kind: 'postgres', url: `postgres://postgres@127.0.0.1:5432/zectre_bench_${process.pid}`, throwaway: true } : { kind: 'pglite', dataDir: join(dir, 'pglite') },
});
const env = { ...process.env, ZECTRE_API_URL: stack.apiUrl, ZECTRE_TOKEN: stack.adminToken };
try {
  await cli(['projects', 'create', 'hello']);
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { marks, stdout } = await cli(['deploy', join(ROOT, 'examples/hello'), '--project', 'hello', '--json', '--env', `RUN=${i}`]);
    const d = JSON.parse(stdout) as Deployment;
    const at = (re: RegExp) => marks.find((m) => re.test(m.line))?.t ?? NaN;
    const run: Run = {
      total: marks.at(-1)!.t,
      boot: at(/^start command/),
      upload: at(/^uploaded/) - at(/^start command/),
      create: at(/^deploying|^live/) - at(/^uploaded/),
      rollout: at(/^live at/) - at(/^deploying|^live/),
      serverCreateToLive: Date.parse(d.liveAt!) - Date.parse(d.createdAt),
    };
    runs.push(run);
    console.log(`run ${i + 1}: ${fmt(run.total)} total (CLI boot ${fmt(run.boot)}, pack+upload ${fmt(run.upload)}, create+plan ${fmt(run.create)}, rollout ${fmt(run.rollout)}; server create->live ${fmt(run.serverCreateToLive)})`);
  }
  const median = (k: keyof Run) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  console.log(`\nmedian of ${RUNS} on ${usePostgres ? 'PostgreSQL' : 'PGlite'}: ${fmt(median('total'))} from command to live`);
  console.log(`  CLI boot (node + tsx + config)   ${fmt(median('boot'))}`);
  console.log(`  pack + upload                    ${fmt(median('upload'))}`);
  console.log(`  create deployment + plan + push  ${fmt(median('create'))}`);
  console.log(`  rollout until the CLI sees live  ${fmt(median('rollout'))}  (CLI polls every 250 ms)`);
  console.log(`  server: created -> live          ${fmt(median('serverCreateToLive'))}  (fetch, unpack, start, health check, heartbeat, cutover)`);
} finally {
  await stack.stop();
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function cli(args: string[]) {
  return timedCli(CLI, args, env);
}
