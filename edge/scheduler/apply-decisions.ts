import { newId } from '../../protocol/index.js';
import { bumpRouteEpoch, type Tx } from '../db.js';
import type { Decisions } from './reconciler/types.js';
import type { GenerationBump } from './shards.js';
import { bumpGenerations } from './task-stop.js';

export interface Applied {
  /** Nodes whose desired state changed and that can be told (not down). */
  push: string[];
  /** Every node whose desired state changed, with its new generation. */
  generations: GenerationBump[];
}

/**
 * Applies one pass's decisions (every evaluated project) inside the caller's transaction, a few
 * set-based statements for the whole batch. At most one route epoch bump: every routing change of
 * the pass takes effect at that epoch, which is also the retirement and cutover epoch recorded.
 * Stops run before inserts, so a port freed by a stop can be taken by a placement (the unique index
 * covers running tasks). `now` stamps retirements and cutovers with the pass's clock, the one the
 * reconciler compares them against.
 */
export async function applyDecisions(tx: Tx, batch: Decisions[], now: number, routingChanged = false): Promise<Applied> {
  const at = new Date(now).toISOString();
  await lockNodes(tx, batch);
  const epoch = routingChanged || batch.some((d) => d.routingChanged) ? await bumpRouteEpoch(tx) : null;
  const all = <T>(pick: (d: Decisions) => T[]) => batch.flatMap(pick);

  const touched = new Set<string>();
  const down = new Set<string>();
  const stops = all((d) => d.stopTasks);
  if (stops.length) {
    await tx.query(`UPDATE tasks SET desired_state = 'stopped', updated_at = $2 WHERE id = ANY($1) AND desired_state = 'running'`, [stops.map((t) => t.id), at]);
    for (const t of stops) touched.add(t.nodeId);
  }
  const lost = all((d) => d.lostTasks);
  if (lost.length) {
    // If such a node comes back, its next heartbeat sees a new generation without these tasks.
    await tx.query(
      `UPDATE tasks SET desired_state = 'stopped', observed_state = 'lost', updated_at = $2 WHERE id = ANY($1) AND desired_state = 'running'`,
      [lost.map((t) => t.id), at],
    );
    for (const t of lost) down.add(t.nodeId);
  }
  const retire = all((d) => d.retireTasks);
  if (retire.length) {
    await tx.query(
      `UPDATE tasks SET retire_epoch = $2, retire_requested_at = $3 WHERE id = ANY($1) AND desired_state = 'running' AND retire_epoch IS NULL`,
      [retire.map((t) => t.id), epoch, at],
    );
  }
  const updates = all((d) => d.deployments);
  if (updates.length) {
    await tx.query(
      `UPDATE deployments d SET status = coalesce(u.status, d.status),
              status_reason = CASE WHEN u.set_reason THEN u.reason ELSE d.status_reason END
       FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[]) AS u(id, status, set_reason, reason) WHERE d.id = u.id`,
      [updates.map((u) => u.id), updates.map((u) => u.status ?? null), updates.map((u) => u.reason !== undefined), updates.map((u) => u.reason ?? null)],
    );
  }
  const retireDeployments = all((d) => d.retireDeployments);
  if (retireDeployments.length) {
    await tx.query('UPDATE deployments SET retire_epoch = $2, retire_requested_at = $3 WHERE id = ANY($1)', [retireDeployments, epoch, at]);
  }
  const retired = all((d) => d.retired);
  if (retired.length) await tx.query('UPDATE deployments SET retire_epoch = NULL WHERE id = ANY($1)', [retired]);
  const cutovers = batch.filter((d) => d.live !== null);
  if (cutovers.length) {
    const live = cutovers.map((d) => d.live!);
    await tx.query('UPDATE deployments SET live_at = $2, live_epoch = $3 WHERE id = ANY($1)', [live, at, epoch]);
    await tx.query(
      'UPDATE projects p SET live_deployment_id = u.live FROM unnest($1::text[], $2::text[]) AS u(id, live) WHERE p.id = u.id',
      [cutovers.map((d) => d.projectId), live],
    );
  }
  const place = all((d) => d.place);
  if (place.length) {
    await tx.query(
      `INSERT INTO tasks (id, deployment_id, node_id, port, desired_state)
       SELECT u.id, u.deployment_id, u.node_id, u.port, 'running' FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(id, deployment_id, node_id, port)`,
      [place.map(() => newId('t')), place.map((p) => p.deploymentId), place.map((p) => p.nodeId), place.map((p) => p.port)],
    );
    for (const p of place) touched.add(p.nodeId);
  }
  const events = batch.flatMap((d) => d.events.map((e) => ({ project: d.projectId, ...e })));
  if (events.length) {
    await tx.query(
      `INSERT INTO events (project_id, kind, data) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])`,
      [events.map((e) => e.project), events.map((e) => e.kind), events.map((e) => JSON.stringify(e.data))],
    );
  }
  for (const w of all((d) => d.warnings)) console.warn(`scheduler: ${w}`);
  const generations = await bumpGenerations(tx, [...new Set([...touched, ...down])].sort());
  return { push: [...touched].filter((n) => !down.has(n)), generations };
}

/**
 * Lock order: the rows of every node whose tasks this pass writes, sorted, before anything else, as
 * a heartbeat locks its node before its tasks and the route epoch. The other order (route epoch and
 * tasks first, nodes last) deadlocked with heartbeats: 430 times in a 1,000-node bench:fleet run.
 */
async function lockNodes(tx: Tx, batch: Decisions[]): Promise<void> {
  const nodes = new Set<string>();
  for (const d of batch) {
    for (const t of d.stopTasks) nodes.add(t.nodeId);
    for (const t of d.lostTasks) nodes.add(t.nodeId);
    for (const t of d.retireTasks) nodes.add(t.nodeId);
    for (const p of d.place) nodes.add(p.nodeId);
  }
  if (nodes.size) await tx.query('SELECT 1 FROM nodes WHERE id = ANY($1) ORDER BY id FOR UPDATE', [[...nodes].sort()]);
}
