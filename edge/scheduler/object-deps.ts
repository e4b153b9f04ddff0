import type { DurableObjectState } from '../cf.js';
import { createPool, type Db } from '../db.js';
import type { Deps } from '../deps.js';
import type { Env } from '../env.js';

/**
 * Deps for a Durable Object: one small pool for the object's lifetime (an object serves one request
 * at a time per input gate and keeps its connections warm between them), background work kept alive
 * with the object's waitUntil.
 */
export function objectDeps(state: DurableObjectState, env: Env, max: number): Deps {
  let pool: Db | undefined;
  return {
    env,
    db: () => {
      if (!pool) {
        pool = createPool(env, max);
        // An idle connection that breaks (database restarted, bridge gone) is dropped and reopened on
        // the next query; unhandled, the error would reset the object and lose its memory.
        pool.on('error', (err: Error) => console.warn(`database connection dropped: ${err.message}`));
      }
      return pool;
    },
    defer: (work) => {
      state.waitUntil(work.catch((err) => console.error('background work failed:', (err as Error).message)));
    },
  };
}
