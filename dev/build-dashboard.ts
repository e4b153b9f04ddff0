/**
 * Builds the dashboard (dashboard/, Vite + Preact) into the assets dir. Skipped when neither the
 * sources nor this file changed since the last build (a hash kept beside the output), so every
 * test stack does not pay for a rebuild.
 */
import preact from '@preact/preset-vite';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { ROOT } from './root.js';

const SOURCES = join(ROOT, 'dashboard');
/** Hashed bundles go here, under the assets dir; index.html goes to its root. */
const ASSETS_SUBDIR = 'dashboard';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

/** Sources of the dashboard, the protocol files it imports, and this builder. */
async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = [...(await filesUnder(SOURCES)), ...(await filesUnder(join(ROOT, 'protocol'))), fileURLToPath(import.meta.url)];
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(await readFile(file)).update('\0');
  return hash.digest('hex');
}

export async function buildDashboard(assetsDir: string): Promise<void> {
  const outDir = resolve(assetsDir); // Vite resolves relative paths against dashboard/, not the cwd
  const stamp = join(outDir, '..', 'dashboard.hash');
  const hash = await sourceHash();
  const current = existsSync(join(outDir, 'index.html')) && (await readFile(stamp, 'utf8').catch(() => '')) === hash;
  if (current) return;
  // Build aside, then copy in: a failed build leaves the previous dashboard in place.
  const staging = await mkdtemp(join(outDir, '..', 'dashboard-build-'));
  try {
    await build({
      root: SOURCES,
      configFile: false,
      logLevel: 'warn',
      plugins: [preact()],
      build: { outDir: staging, emptyOutDir: true, assetsDir: ASSETS_SUBDIR, reportCompressedSize: false },
    });
    await rm(join(outDir, ASSETS_SUBDIR), { recursive: true, force: true });
    await cp(staging, outDir, { recursive: true });
    await writeFile(stamp, hash);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
