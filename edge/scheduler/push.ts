import type { Deps } from '../deps.js';
import { desiredState } from './desired.js';
import { pushUrlProblem } from './push-url.js';
import { signDesiredState } from './signing.js';

const PUSH_TIMEOUT_MS = 3_000;

/**
 * Pushes each node's desired state to its push URL, best effort: heartbeats carry the same document,
 * so a node that push cannot reach (NAT, down) still converges. Documents are read now, sent later.
 */
export async function pushToNodes(deps: Deps, nodeIds: string[]): Promise<void> {
  if (!nodeIds.length) return;
  const db = deps.db();
  const { rows } = await db.query('SELECT id, push_url FROM nodes WHERE id = ANY($1) AND push_url IS NOT NULL', [nodeIds]);
  const sends = [];
  for (const r of rows) {
    // Stored before the rules existed, or since tightened (PUSH_URL_DOMAINS): such a node polls.
    const problem = pushUrlProblem(deps.env, r.push_url);
    if (problem) {
      console.warn(`not pushing to node ${r.id}: ${problem}; it will converge by heartbeat`);
      continue;
    }
    const token = await signDesiredState(deps.env.SCHEDULER_SIGNING_KEY, await desiredState(db, deps.env, r.id));
    sends.push(send(r.push_url, token, r.id));
  }
  deps.defer(Promise.allSettled(sends));
}

async function send(url: string, token: string, nodeId: string): Promise<void> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
      // The URL was checked, a redirect's target was not.
      redirect: 'manual',
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    });
    if (!res.ok) console.warn(`push to node ${nodeId} answered ${res.status}; it will converge by heartbeat`);
  } catch (err) {
    console.warn(`push to node ${nodeId} failed (${(err as Error).message}); it will converge by heartbeat`);
  }
}
