/**
 * Issue 11.3: a VM's proxy logs in as a role of its own (migration 010 + `npm run proxy-role`). With
 * it the proxy loads its route table and reports its epoch; it cannot read env, tokens or
 * deployments, nor touch another proxy's row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Pool } from '@neondatabase/serverless';
import { openDatabase, type LocalDatabase } from '../dev/database.js';
import { loadRouteRows } from '../node-proxy/route-queries.js';
import { buildRouteTable } from '../node-proxy/route-table.js';
import { testDatabase } from '../test/support/database.js';
import { createPool } from './connect.js';
import { createProxyRole, proxyRoleName } from './proxy-role.js';

const pglite = process.env.ZECTRE_TEST_DB === 'pglite';

describe('the proxy database role', { skip: pglite && 'PGlite has one user: roles need PostgreSQL' }, () => {
  let local: LocalDatabase;
  let admin: Pool;
  let vm1: Pool;
  let vm2: Pool;
  const asRole = async (name: string) => {
    const { databaseUrl } = await createProxyRole(local.options, name, null);
    const pool = createPool({ ...local.options, databaseUrl }, 1);
    pool.on('error', () => {});
    return pool;
  };
  const refusal = async (pool: Pool, sql: string) => (await pool.query(sql).then(() => undefined, (err) => err)) as { code?: string } | undefined;

  before(async () => {
    local = await openDatabase(testDatabase('proxyrole'));
    admin = createPool(local.options, 1);
    await admin.query(`
      INSERT INTO users (id, name) VALUES ('u1', 'ann');
      INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ('t1', 'u1', 'ci', 'hash-of-a-secret');
      INSERT INTO projects (id, slug) VALUES ('p1', 'shop');
      INSERT INTO env_vars (project_id, key, value_enc) VALUES ('p1', 'DB_PASSWORD', 'ciphertext');
      INSERT INTO artifacts (digest, size) VALUES ('sha256:aa', 1);
      INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, status, deadline_at)
        VALUES ('d1', 'p1', 'sha256:aa', 'node server.js', 'ciphertext', 1, '{}', '{}', 'live', now());
      UPDATE projects SET live_deployment_id = 'd1' WHERE id = 'p1';
      INSERT INTO nodes (id, name, address, cpu_millis, memory_mb, port_min, port_max, status, credential_hash)
        VALUES ('n1', 'a', '10.0.0.7', 1000, 1024, 20000, 20100, 'ready', 'cred');
      INSERT INTO tasks (id, deployment_id, node_id, port, desired_state, observed_state)
        VALUES ('k1', 'd1', 'n1', 20001, 'running', 'healthy'), ('k2', 'd1', 'n1', 20002, 'running', 'starting');
      INSERT INTO proxies (id, epoch) VALUES ('installed-by-admin', 1);`);
    vm1 = await asRole('vm-1');
    vm2 = await asRole('vm-2');
  });
  after(async () => {
    for (const pool of [vm1, vm2, admin]) await pool?.end();
    await local?.close();
  });

  test('a VM name becomes a role name PostgreSQL accepts', () => {
    assert.equal(proxyRoleName('VM-1.example.com'), 'zectre_proxy_vm_1_example_com');
    assert.throws(() => proxyRoleName('--'), /no letters or digits/);
  });

  test('it loads the route table: only the healthy task of the live release is a backend', async () => {
    const table = buildRouteTable({ ...(await loadRouteRows(vm1)), appsDomain: 'zectre.localhost' });
    const target = table.lookup('shop.zectre.localhost', '/');
    assert.ok(target, 'shop.zectre.localhost is not routed');
    assert.deepEqual(target.backends.map((b) => b.key), ['10.0.0.7:20001']);
  });

  test('it cannot read env, tokens, deployments, tasks or nodes', async () => {
    for (const table of ['env_vars', 'api_tokens', 'deployments', 'tasks', 'nodes', 'users', 'join_tokens']) {
      const err = await refusal(vm1, `SELECT * FROM ${table} LIMIT 1`);
      assert.equal(err?.code, '42501', `${table} is readable by the proxy role`);
    }
    assert.equal((await refusal(vm1, "UPDATE route_epoch SET epoch = epoch + 1"))?.code, '42501');
  });

  test('it writes its own proxies row and no other', async () => {
    await vm1.query(`INSERT INTO proxies (id, epoch) VALUES ('vm-1', 5) ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch`);
    await vm1.query(`UPDATE proxies SET epoch = 6 WHERE id = 'vm-1'`);
    const seen = await vm1.query('SELECT id, epoch FROM proxies');
    assert.deepEqual(seen.rows, [{ id: 'vm-1', epoch: '6' }], 'a proxy role sees rows that are not its own');
    // vm-2 can neither change nor delete vm-1's row, nor take over its id.
    assert.equal((await vm2.query(`UPDATE proxies SET epoch = 99 WHERE id = 'vm-1'`)).rowCount, 0);
    assert.equal((await vm2.query(`DELETE FROM proxies WHERE id IN ('vm-1', 'installed-by-admin')`)).rowCount, 0);
    assert.ok(await refusal(vm2, `INSERT INTO proxies (id, epoch) VALUES ('vm-1', 1) ON CONFLICT (id) DO UPDATE SET epoch = 1`));
    assert.ok(await refusal(vm2, `INSERT INTO proxies (id, epoch, db_role) VALUES ('forged', 1, 'zectre_proxy_vm_1')`));
    const all = await admin.query('SELECT id, epoch, db_role FROM proxies ORDER BY id');
    assert.deepEqual(all.rows, [
      { id: 'installed-by-admin', epoch: '1', db_role: 'postgres' },
      { id: 'vm-1', epoch: '6', db_role: 'zectre_proxy_vm_1' },
    ]);
  });

  test('running the command again re-keys the role', async () => {
    const first = await createProxyRole(local.options, 'vm-3', 'first-secret');
    const second = await createProxyRole(local.options, 'vm-3', 'second-secret');
    assert.equal(first.role, second.role);
    assert.match(second.databaseUrl, /zectre_proxy_vm_3:second-secret@/);
  });
});
