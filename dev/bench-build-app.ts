/**
 * Apps for `npm run bench:build` and test/e2e/builds-cli.test.ts, written into a directory with a
 * real package-lock.json resolved from the npm registry (`npm install --package-lock-only`): an
 * Express server in TypeScript whose `build` script runs tsc, and optionally a heavy dependency
 * set (~150 MB of node_modules once installed).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Packages already used by this repository, so npm's cache usually has them. */
const TS_DEPENDENCIES = { express: '4.21.2' };
const TS_DEV_DEPENDENCIES = { typescript: '5.9.3', '@types/express': '4.17.21', '@types/node': '20.19.0' };
/**
 * About 150 MB installed: uWebSockets.js's prebuilt binaries for every platform (~113 MB), the
 * TypeScript compiler (~23 MB), zod (~8 MB), and express. All runtime dependencies, so a prune keeps them.
 */
const HEAVY_DEPENDENCIES = { 'uWebSockets.js': 'npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0', typescript: '5.9.3', zod: '4.6.7' };

export interface TsAppOptions {
  /** What GET / answers (`hello from ts <version>`). */
  version: string;
  /** Adds ~150 MB of runtime dependencies. */
  heavy?: boolean;
  /** A line tsc refuses, to fail the build step. */
  typeError?: boolean;
}

/** Writes the app's files (not the lockfile: lockDependencies does that once, it does not change with the source). */
export async function writeTsApp(dir: string, opts: TsAppOptions): Promise<void> {
  await mkdir(join(dir, 'src'), { recursive: true });
  const pkg = {
    name: 'zectre-ts-app',
    version: '1.0.0',
    private: true,
    scripts: { build: 'tsc -p .', start: 'node dist/server.js' },
    engines: { node: '>=20' },
    dependencies: { ...TS_DEPENDENCIES, ...(opts.heavy ? HEAVY_DEPENDENCIES : {}) },
    devDependencies: opts.heavy ? { '@types/express': TS_DEV_DEPENDENCIES['@types/express'], '@types/node': TS_DEV_DEPENDENCIES['@types/node'] } : TS_DEV_DEPENDENCIES,
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const tsconfig = {
    compilerOptions: { target: 'ES2022', module: 'commonjs', outDir: 'dist', rootDir: 'src', strict: true, esModuleInterop: true, skipLibCheck: true },
    include: ['src'],
  };
  await writeFile(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  // node itself, not `npm start` (npm + node): the default 128 MB per task holds one node, not two.
  await writeFile(join(dir, 'zectre.json'), `${JSON.stringify({ command: 'node dist/server.js' }, null, 2)}\n`);
  await writeFile(join(dir, '.gitignore'), 'node_modules/\ndist/\n');
  // Never uploaded for a remote build (and the app says whether it sees one).
  await writeFile(join(dir, '.env'), 'LOCAL_SECRET=do-not-upload\n');
  await writeFile(
    join(dir, 'src/server.ts'),
    [
      "import { existsSync } from 'node:fs';",
      "import express from 'express';",
      '',
      `const version: string = ${JSON.stringify(opts.version)};`,
      ...(opts.typeError ? ["const port: number = 'not a number';"] : ['const port: number = Number(process.env.PORT) || 3000;']),
      'const app = express();',
      "app.get('/', (_req, res) => { res.type('text/plain').send(`hello from ts ${version}\\n`); });",
      "app.get('/dotenv', (_req, res) => { res.type('text/plain').send(existsSync('.env') ? 'a .env file is here\\n' : 'no .env file\\n'); });",
      'const server = app.listen(port, () => console.log(`listening on ${port}`));',
      "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
      '',
    ].join('\n'),
  );
}

/** Resolves the dependencies into package-lock.json from the npm registry (installs nothing). */
export async function lockDependencies(dir: string): Promise<void> {
  await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')); // it exists and is JSON
}

/** Installs node_modules as a user would before uploading as-is (`npm ci`, then tsc). */
export async function installAndBuild(dir: string): Promise<void> {
  await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  await run('npm', ['run', 'build'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
}
