import type { ExecutionContext } from './cf.js';
import { createPool, type Db } from './db.js';
import type { Env } from './env.js';

/** What a handler needs besides the request: config, a lazily opened DB pool, background work. */
export interface Deps {
  env: Env;
  db(): Db;
  /** Work that may finish after the response (pushes to agents). */
  defer(work: Promise<unknown>): void;
  /** Closes the request's connections (before a wait on another component); a later db() opens new ones. */
  releaseDb(): Promise<void>;
}

export function createDeps(env: Env, ctx: ExecutionContext): { deps: Deps; close(): void } {
  let pool: Db | undefined;
  const background: Promise<unknown>[] = [];
  const deps: Deps = {
    env,
    db: () => (pool ??= createPool(env)),
    defer: (work) => {
      background.push(work.catch((err) => console.error('background work failed:', (err as Error).message)));
    },
    releaseDb: async () => {
      const open = pool;
      pool = undefined;
      await open?.end();
    },
  };
  return {
    deps,
    // The pool is ended only after deferred work, which may still query.
    close: () => ctx.waitUntil(Promise.allSettled(background).then(() => pool?.end())),
  };
}
