/**
 * Bundles the node agent into one file the Worker serves as a static asset
 * (dist/public/install/zectre-agent.mjs, fetched by /install.sh). Only uWebSockets.js stays external:
 * it is a native binary the installer npm-installs next to the bundle. hyper-express's JavaScript is
 * bundled: loaded as ~40 CommonJS files from node_modules it cost ~5 MB more RSS on every VM (issue #3).
 */
import { build, type Plugin } from 'esbuild';
import { join } from 'node:path';
import { ROOT } from './root.js';

/** The agent's runtime dependencies that cannot be bundled (the installer installs them with npm). */
export const AGENT_NATIVE_DEPS = ['uWebSockets.js'];

/**
 * zod's `z` namespace re-exports every locale (~250 KB of the bundle's ~800 KB), and esbuild cannot
 * drop them; the agent only ever uses zod's default English messages, so only `en` is bundled.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'zod-english-only' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({ contents: "export { default as en } from 'zod/v4/locales/en.js';", resolveDir: ROOT }));
  },
};

export async function buildAgent(outDir: string): Promise<void> {
  await bundleForNode('node-agent/main.ts', join(outDir, 'install/zectre-agent.mjs'), { external: AGENT_NATIVE_DEPS, plugins: [zodEnglishOnly] });
}

/** One minified ESM file for Node 20 from a TypeScript entry: what install.sh puts on a VM. */
export async function bundleForNode(entry: string, outfile: string, opts: { external: string[]; plugins?: Plugin[] }): Promise<void> {
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: opts.external,
    plugins: opts.plugins ?? [],
    // Bundled CommonJS dependencies (hyper-express, tar's and ws's helpers) call require(); ESM has none by default.
    banner: { js: "import { createRequire as __zectreRequire } from 'node:module'; const require = __zectreRequire(import.meta.url);" },
    legalComments: 'none',
    minify: true,
    logLevel: 'warning',
  });
}
