/**
 * Bundles the node proxy into one file the Worker serves as a static asset
 * (dist/public/install/zectre-proxy.mjs, installed by /install.sh): built JavaScript, no TypeScript
 * at run time on a VM. It has no native dependency: ws's optional native helpers stay out (ws falls
 * back to JavaScript when they are missing).
 */
import { join } from 'node:path';
import { bundleForNode } from './build-agent.js';

export async function buildProxy(outDir: string): Promise<void> {
  await bundleForNode('node-proxy/main.ts', join(outDir, 'install/zectre-proxy.mjs'), { external: ['bufferutil', 'utf-8-validate'] });
}
