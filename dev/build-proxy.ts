/**
 * Bundles the node proxy into one file the Worker serves as a static asset
 * (dist/public/install/zectre-proxy.mjs, installed by /install.sh): built JavaScript, no TypeScript
 * at run time on a VM. It has no native dependency: ws's optional native helpers stay out (ws falls
 * back to JavaScript when they are missing).
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { ROOT } from './root.js';

export async function buildProxy(outDir: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, 'node-proxy/main.ts')],
    outfile: join(outDir, 'install/zectre-proxy.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['bufferutil', 'utf-8-validate'],
    // Bundled CommonJS dependencies call require(); ESM has none by default.
    banner: { js: "import { createRequire as __zectreRequire } from 'node:module'; const require = __zectreRequire(import.meta.url);" },
    legalComments: 'none',
    minify: true,
    logLevel: 'warning',
  });
}
