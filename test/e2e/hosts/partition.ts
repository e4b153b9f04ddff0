/** A worker host cut off from everyone (link down), then back: loss, replacement, stale task, convergence. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { waitFor } from '../../../dev/processes.js';
import type { Deployment } from '../../../protocol/index.js';
import { taskGroupsUnder } from '../agent-support.js';
import { setLink } from './netns.js';
import type { Suite } from './suite.js';
import { PROJECT, requestStream, viaProxy } from './traffic.js';

/** Clients of the steady stream: at most this many requests are in flight when the link goes down. */
const CONCURRENCY = 4;
const GOAL_MS = 15_000;

/** Carried from the partition to its healing: the copy left behind on the cut-off host. */
let stale: { taskId: string; nodeId: string } | undefined;

export async function liveDeployment(s: Suite): Promise<Deployment> {
  const [project] = await s.sql('SELECT live_deployment_id FROM projects WHERE slug = $1', [PROJECT]);
  return s.deployment(project.live_deployment_id);
}

const running = (d: Deployment) => d.tasks.filter((t) => t.desiredState === 'running');

export async function partitionHost(s: Suite, t: TestContext): Promise<void> {
  const d = await liveDeployment(s);
  const before = new Set(running(d).map((task) => task.id));
  const left = running(d).find((task) => task.nodeId === s.w1.nodeId);
  assert.ok(left, `no copy on ${s.w1.name}: ${JSON.stringify(d.tasks)}`);
  stale = { taskId: left.id, nodeId: s.w1.nodeId };
  const stream = requestStream(s.w2.proxyUrl, CONCURRENCY);
  try {
    await waitFor('the request stream to flow', async () => stream.samples.filter((x) => x.ok).length >= 20, 30_000);
    const cutAt = Date.now();
    setLink(s.w1, false);
    const [lost] = await waitFor(`${s.w1.name}'s node to be declared lost`, async () => {
      const events = await s.sql(`SELECT (data->>'silentMs')::int AS silent, at FROM events WHERE kind = 'node.lost' AND data->>'nodeId' = $1 AND at >= $2`,
        [s.w1.nodeId, new Date(cutAt)]);
      return events.length > 0 && events;
    }, 120_000);
    const lostMs = new Date(lost.at).getTime() - cutAt;
    const replacement = await waitFor('a replacement healthy on the other host', async () => {
      const now = await s.deployment(d.id);
      return running(now).find((task) => !before.has(task.id) && task.nodeId === s.w2.nodeId && task.observedState === 'healthy');
    }, 120_000);
    await waitFor('the surviving proxy to serve the replacement', async () => stream.samples.some((x) => x.task === replacement.id), 60_000);
    const servingMs = stream.samples.find((x) => x.task === replacement.id)!.at - cutAt;
    const samples = await stream.stop();
    const afterCut = samples.filter((x) => x.at >= cutAt);
    const failed = afterCut.filter((x) => !x.ok);
    t.diagnostic(`link down -> node declared lost: ${lostMs} ms (silent ${lost.silent} ms; issue's goal ${GOAL_MS} ms: ${lostMs <= GOAL_MS ? 'met' : 'MISSED'})`);
    t.diagnostic(`link down -> replacement serving through the surviving proxy: ${servingMs} ms`);
    t.diagnostic(`requests lost: ${failed.length} of ${afterCut.length} after the cut (${CONCURRENCY} clients)${failed.length ? `; first: ${failed[0]!.error}` : ''}`);
    assert.ok(failed.length <= CONCURRENCY, `${failed.length} requests failed, more than the ${CONCURRENCY} in flight: ${failed.slice(0, 5).map((x) => x.error).join('; ')}`);
  } finally {
    await stream.stop();
  }
}

export async function healPartition(s: Suite, t: TestContext): Promise<void> {
  assert.ok(stale, 'the partition scenario did not run');
  const workDir = join(s.w1.prefix, 'work');
  let current = new Set<string>();
  try {
    // The copy on the lost node keeps routing until its replacement is healthy and leaves the desired
    // tasks only after every live proxy acknowledged: a condition to wait on, not an instant.
    const lostId = stale.taskId;
    current = await waitFor('the copy on the lost node to leave the desired tasks', async () => {
      const ids = running(await liveDeployment(s)).map((task) => task.id);
      return ids.length === 2 && !ids.includes(lostId) && new Set(ids);
    }, 60_000);
    assert.equal(taskGroupsUnder(workDir).size, 1, `the copy on ${s.w1.name} did not outlive the partition`);
  } catch (err) {
    setLink(s.w1, true); // the scenarios after this one need the host back
    throw err;
  }
  const healedAt = Date.now();
  setLink(s.w1, true);
  // Through both proxies, from now on: any answer from the stale copy is a duplicate serve.
  const streams = [s.w1, s.w2].map((w) => ({ w, stream: requestStream(w.proxyUrl, 2) }));
  try {
    await waitFor(`${s.w1.name}'s agent to stop its stale copy`, async () => taskGroupsUnder(workDir).size === 0, 120_000);
    const stoppedMs = Date.now() - healedAt;
    // Converged: both proxies answer only from the current copies, each of them, for a run of requests.
    await waitFor('routing to converge', async () => {
      for (const w of [s.w1, s.w2]) {
        const seen = new Set<string>();
        for (let i = 0; i < 10; i++) {
          const a = await viaProxy(w.proxyUrl);
          if (a.status !== 200 || !current.has(a.task!)) return false;
          seen.add(a.task!);
        }
        if (seen.size !== current.size) return false;
      }
      return true;
    }, 60_000);
    const convergedMs = Date.now() - healedAt;
    const samples = streams.flatMap(({ w, stream }) => stream.samples.map((x) => ({ ...x, proxy: w.name })));
    const staleServes = samples.filter((x) => x.task === stale!.taskId);
    const failed = samples.filter((x) => !x.ok);
    t.diagnostic(`heal -> stale copy stopped on ${s.w1.name}: ${stoppedMs} ms; heal -> routing converged: ${convergedMs} ms`);
    // The returning host's proxy serves its last routes (its own stale copy among them) until it reads the new ones.
    const last = staleServes.length ? `, the last ${staleServes.at(-1)!.at - healedAt} ms after healing` : '';
    t.diagnostic(`answers by the stale copy after healing: ${staleServes.length} of ${samples.length} (${staleServes.filter((x) => x.proxy === s.w1.name).length} through ${s.w1.name}'s proxy)${last}; failed: ${failed.length}`);
    assert.deepEqual(staleServes.filter((x) => x.proxy === s.w2.name), [], `${s.w2.name}'s proxy served the copy its database says is stopped`);
    const rows = await s.sql(`SELECT id FROM routing.routable_tasks WHERE slug = $1`, [PROJECT]);
    assert.deepEqual(new Set(rows.map((r) => r.id)), current, 'routing holds other copies than the two current ones');
    const [task] = await s.sql('SELECT desired_state, observed_state FROM tasks WHERE id = $1', [stale.taskId]);
    assert.equal(task.desired_state, 'stopped');
  } finally {
    for (const { stream } of streams) await stream.stop();
  }
}
