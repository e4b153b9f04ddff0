/**
 * Bundles the `zectre` CLI into one JavaScript file (package.json "bin"), so no TypeScript is
 * compiled when it runs: `zectre --help` went from ~0.8 s through tsx to well under 0.3 s. Every
 * dependency is bundled (nothing to resolve at startup); commands load their heavy parts (tar, zod,
 * progress bars) with import() when they run, which esbuild keeps as lazily evaluated modules.
 * Run by `npm ci`/`npm install` (prepare, which also links `npx zectre`), `npm run build`, `npm start`
 * and the CLI tests.
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './root.js';

/** Where package.json's "bin" points. */
export const CLI_BIN = join(ROOT, 'dist/cli/zectre.js');

/** Builds into `outdir` (zectre.js and the chunks it imports lazily); returns the path of zectre.js. */
export async function buildCli(outdir = dirname(CLI_BIN)): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const { outputFiles } = await build({
    entryPoints: { zectre: join(ROOT, 'cli/main.ts') },
    write: false,
    outdir,
    // Chunks per lazily imported part: startup compiles only what `--help` needs (compiling the
    // whole 1.2 MB bundle was most of its startup).
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    define: { ZECTRE_VERSION: JSON.stringify(version) },
    // Bundled CommonJS dependencies (commander, cli-progress) call require(); ESM has none by default.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __zectreRequire } from 'node:module'; const require = __zectreRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
  });
  // Each file written whole then renamed, chunks before the entry that imports them: a CLI running
  // while `npm start` or a test rebuilds it never reads half a file.
  const bin = join(outdir, 'zectre.js');
  for (const file of outputFiles.sort((a, b) => Number(a.path === bin) - Number(b.path === bin))) {
    await mkdir(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    // 0755 for the entry: runnable as ./dist/cli/zectre.js (npm sets the mode itself where it links a bin).
    await writeFile(tmp, file.contents, { mode: file.path === bin ? 0o755 : 0o644 });
    await rename(tmp, file.path);
  }
  return bin;
}

/**
 * npm links the bins of dependencies into node_modules/.bin but not the checkout's own, so
 * `npx zectre` in the checkout would find nothing: the prepare step links it as npm would.
 */
export async function linkBin(): Promise<void> {
  const bin = join(ROOT, 'node_modules/.bin/zectre');
  await rm(bin, { force: true });
  await symlink(relative(dirname(bin), CLI_BIN), bin);
}

// `npm ci` / `npm install` run this as package.json's prepare script.
if (import.meta.url === `file://${process.argv[1]}`) {
  await buildCli();
  await linkBin();
}
