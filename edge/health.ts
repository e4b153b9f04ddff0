import type { IRequest } from 'itty-router';
import type { Deps } from './deps.js';
import { json } from './http.js';

const PROBE_TIMEOUT_MS = 3_000;

/**
 * GET /healthz: the Worker answers, and says whether the database does (one `SELECT 1`, bounded):
 * 200 `{ok: true, database: "ok"}`, or 503 `{ok: false, database: "unreachable"}` with Retry-After.
 */
export async function healthz(_request: IRequest, deps: Deps): Promise<Response> {
  const probe = deps.db().query('SELECT 1');
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), PROBE_TIMEOUT_MS));
  try {
    await Promise.race([probe, timeout]);
    return json({ ok: true, database: 'ok' });
  } catch (err) {
    probe.catch(() => undefined);
    console.error(`healthz: database unreachable: ${(err as Error).message}`);
    return json({ ok: false, database: 'unreachable' }, 503, { 'retry-after': '1' });
  }
}
