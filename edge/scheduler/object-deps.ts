import type { DurableObjectState } from '../cf.js';
import { createPool, type Db } from '../db.js';
import type { Deps } from '../deps.js';
import type { Env } from '../env.js';

/**
 * Deps for a Durable Object: one small pool for the object's lifetime (an object serves one request
 * at a time per input gate and keeps its connections warm between them), background work kept alive
 * with the object's waitUntil.
 */
const OBJECT_IDLE_MS = 120_000;

export function objectDeps(state: DurableObjectState, env: Env, max: number): Deps {
  let pool: Db | undefined;
  return {
    env,
    // Kept open between the object's periodic statements (the default idle timeout is 10 s).
    db: () => (pool ??= createPool(env, max, OBJECT_IDLE_MS)),
    defer: (work) => {
      state.waitUntil(work.catch((err) => console.error('background work failed:', (err as Error).message)));
    },
    // The object's pool is its own, kept for its lifetime.
    releaseDb: async () => undefined,
  };
}
