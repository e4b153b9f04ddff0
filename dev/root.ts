import { fileURLToPath } from 'node:url';

/** The repository root: children (wrangler, agent, proxy, CLI) run from here whatever the caller's cwd. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
