/**
 * Builds what the Worker serves as static assets into dist/public (wrangler.toml [assets]).
 * Each part adds its own step here; `npm start` and the test stack run this before wrangler dev.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildAgent } from './build-agent.js';
import { buildCli } from './build-cli.js';
import { buildDashboard } from './build-dashboard.js';
import { buildProxy } from './build-proxy.js';
import { ROOT } from './root.js';

export const ASSETS_DIR = join(ROOT, 'dist/public');

type BuildStep = (outDir: string) => Promise<void>;
const steps: BuildStep[] = [buildDashboard, buildAgent, buildProxy];

export async function buildAssets(): Promise<void> {
  await mkdir(ASSETS_DIR, { recursive: true });
  for (const step of steps) await step(ASSETS_DIR);
}

// `npm run build`: the Worker's assets and the CLI (package.json "bin").
if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAssets();
  await buildCli();
}
