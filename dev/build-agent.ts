/**
 * Bundles the node agent into one file the Worker serves as a static asset
 * (dist/public/install/zectre-agent.mjs, fetched by /install.sh). hyper-express and uWebSockets.js
 * stay external: uWebSockets.js is a native binary, so the installer npm-installs both next to it.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { ROOT } from './root.js';

/** The agent's runtime dependencies the installer installs with npm (versions as in package.json). */
export const AGENT_NATIVE_DEPS = ['hyper-express', 'uWebSockets.js'];

export async function buildAgent(outDir: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, 'node-agent/main.ts')],
    outfile: join(outDir, 'install/zectre-agent.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: AGENT_NATIVE_DEPS,
    // Bundled CommonJS dependencies (tar's helpers) call require(); ESM has none by default.
    banner: { js: "import { createRequire as __zectreRequire } from 'node:module'; const require = __zectreRequire(import.meta.url);" },
    legalComments: 'none',
    minify: true,
    logLevel: 'warning',
  });
}
