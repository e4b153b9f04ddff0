/**
 * Several hosts, really (issue 11 point 5): three network namespaces on one bridge. The control
 * plane (a private PostgreSQL, its WebSocket bridge, the Worker in workerd) on one; two worker hosts
 * installed with install.sh (agent + proxy, --no-systemd), each known by its own address only.
 * Partitions are a link taken down (the host loses everyone) or blackhole routes between a worker
 * host and the control plane only. Measured times are printed as diagnostics.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../../dev/processes.js';
import type { Deployment } from '../../protocol/index.js';
import { createPool } from '../../sql/connect.js';
import { apiClient } from './agent-support.js';
import { startControlPlane } from './hosts/control-plane.js';
import { installHost, warmNpmCache } from './hosts/install-host.js';
import { createHosts, netnsUnavailable, PREFIX, removeHosts } from './hosts/netns.js';
import { postgresBin } from './hosts/postgres.js';
import { controlPlanePartition, databaseOutage } from './hosts/outages.js';
import { healPartition, partitionHost } from './hosts/partition.js';
import type { Suite } from './hosts/suite.js';
import { APP, APP_SPEC, PROJECT, viaProxy } from './hosts/traffic.js';

const pgBin = postgresBin();
const skip = netnsUnavailable() ?? (pgBin ? false : 'no PostgreSQL server binaries under /usr/lib/postgresql: skipping the multi-host suite');
/** The product's default: the 15 s goal for declaring a node lost is stated with it. */
const HEARTBEAT_INTERVAL_MS = 5_000;
const echo = process.env.ZECTRE_TEST_ECHO === '1';

describe('three hosts in network namespaces', { skip, timeout: 420_000 }, () => {
  let dir: string;
  let pool: ReturnType<typeof createPool> | undefined;
  const s = {} as Suite;

  before(async () => {
    await removeLeftovers();
    dir = await mkdtemp(join(tmpdir(), `${PREFIX}run-`));
    const [cpHost, h1, h2] = createHosts(['cp', 'w1', 'w2']);
    s.cpHost = cpHost!;
    [s.cp] = await Promise.all([startControlPlane(cpHost!, pgBin!, join(dir, 'state'), HEARTBEAT_INTERVAL_MS, echo), warmNpmCache()]);
    pool = createPool(s.cp.db, 2);
    pool.on('error', () => undefined); // idle connections break while PostgreSQL is down
    s.sql = async (text, args = []) => (await pool!.query(text, args)).rows;
    s.api = apiClient(s.cp.apiUrl, s.cp.adminToken);
    s.deployment = (id) => s.api.call<Deployment>('GET', `/api/v1/deployments/${id}`);
    [s.w1, s.w2] = await Promise.all([installHost(h1!, 'w1', s.cp), installHost(h2!, 'w2', s.cp)]);
  });

  after(async () => {
    await pool?.end().catch(() => undefined);
    await s.cp?.stop();
    removeHosts(); // every process left in the namespaces: agents, proxies, tasks
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const w of [s.w1, s.w2]) if (w) await rm(w.prefix, { recursive: true, force: true });
  });

  test('a deployment with two replicas lands on both hosts; each host\'s proxy serves both copies, forwarding across hosts by node address', async (t) => {
    const d = await s.api.deploy(PROJECT, APP, APP_SPEC);
    assert.deepEqual(new Set(d.tasks.map((task) => task.nodeId)), new Set([s.w1.nodeId, s.w2.nodeId]));
    const routes = await s.sql(`SELECT address FROM routing.routable_tasks WHERE slug = $1 ORDER BY address`, [PROJECT]);
    assert.deepEqual(routes.map((r) => r.address), [s.w1.address, s.w2.address]);
    const tasks = new Set(d.tasks.map((task) => task.id));
    for (const w of [s.w1, s.w2]) {
      const seen = new Set<string>();
      await waitFor(`${w.name}'s proxy to serve both copies`, async () => {
        const a = await viaProxy(w.proxyUrl);
        assert.equal(a.status, 200, a.body);
        seen.add(a.task!);
        return seen.size === 2;
      }, 60_000);
      assert.deepEqual(seen, tasks);
    }
    t.diagnostic(`settings: heartbeat ${HEARTBEAT_INTERVAL_MS} ms (default); agents poll (push URLs need https)`);
  });

  test('a worker host\'s link goes down: its node is declared lost, the replica is replaced on the other host, the surviving proxy loses at most the requests in flight', (t) =>
    partitionHost(s, t));

  test('the partition heals: the returning node stops its stale task, the other proxy never serves it, routing converges', (t) => healPartition(s, t));

  test('a worker host cut off from the control plane only keeps serving through its proxy; its logs are spooled and arrive complete after healing', (t) =>
    controlPlanePartition(s, t));

  test('PostgreSQL stopped for 60 s: proxies serve the last routes, the Worker answers clear 503s, everything recovers by itself', (t) => databaseOutage(s, t));
});

/** A crashed run's namespaces, bridge, processes and directories (all named with PREFIX). */
async function removeLeftovers(): Promise<void> {
  removeHosts();
  for (const entry of readdirSync(tmpdir())) if (entry.startsWith(PREFIX)) await rm(join(tmpdir(), entry), { recursive: true, force: true });
}
