/**
 * Migration 007 on a database that already has data: artifact ownership is backfilled from the
 * deployments (each project owns what it deployed), and join tokens that never expired get an expiry.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase, type LocalDatabase } from '../dev/database.js';
import { testDatabase } from '../test/support/database.js';
import { createPool } from './connect.js';
import { migrate } from './migrate.js';

const MIGRATION = '007_artifact_owners_and_join_tokens.sql';
let local: LocalDatabase;
let pool: ReturnType<typeof createPool>;

before(async () => {
  local = await openDatabase(testDatabase('migration007'));
  pool = createPool(local.options, 1);
  // Back to the schema before 007, then the rows an older control plane would have.
  await pool.query(`DROP TABLE artifact_owners;
    ALTER TABLE join_tokens DROP COLUMN single_use, DROP COLUMN used_at, ALTER COLUMN expires_at DROP NOT NULL;
    DELETE FROM schema_migrations WHERE name = '${MIGRATION}'`);
  await pool.query(`INSERT INTO users (id, name) VALUES ('u1', 'ann'), ('u2', 'ben')`);
  await pool.query(`INSERT INTO projects (id, slug) VALUES ('p1', 'shop'), ('p2', 'blog'), ('p3', 'idle')`);
  await pool.query(`INSERT INTO artifacts (digest, size, created_by) VALUES ('sha256:aa', 1, 'u1'), ('sha256:bb', 1, 'u2'), ('sha256:cc', 1, 'u1')`);
  const deployment = (id: string, project: string, digest: string) => pool.query(
    `INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, status, deadline_at)
     VALUES ($1, $2, $3, 'node server.js', '', 1, '{}', '{}', 'superseded', now())`,
    [id, project, digest],
  );
  await deployment('d1', 'p1', 'sha256:aa');
  await deployment('d2', 'p1', 'sha256:aa');
  await deployment('d3', 'p2', 'sha256:aa');
  await deployment('d4', 'p2', 'sha256:bb');
  await pool.query(`INSERT INTO join_tokens (id, token_hash) VALUES ('k1', 'h1')`);
  await pool.query(`INSERT INTO join_tokens (id, token_hash, expires_at) VALUES ('k2', 'h2', now() + interval '1 hour')`);
  assert.deepEqual(await migrate(local.options), [MIGRATION]);
});
after(async () => {
  await pool?.end();
  await local?.close();
});

test('each project owns the artifacts it deployed, recorded as uploaded by the artifact\'s uploader', async () => {
  const { rows } = await pool.query('SELECT project_id, digest, created_by FROM artifact_owners ORDER BY project_id, digest');
  assert.deepEqual(rows, [
    { project_id: 'p1', digest: 'sha256:aa', created_by: 'u1' },
    { project_id: 'p2', digest: 'sha256:aa', created_by: 'u1' },
    { project_id: 'p2', digest: 'sha256:bb', created_by: 'u2' },
  ]);
});

test('join tokens without an expiry get one; the others keep theirs and are reusable', async () => {
  const { rows } = await pool.query(
    `SELECT id, expires_at > now() AND expires_at <= now() + interval '1 day' AS within_a_day, single_use, used_at FROM join_tokens ORDER BY id`,
  );
  assert.deepEqual(rows, [
    { id: 'k1', within_a_day: true, single_use: false, used_at: null },
    { id: 'k2', within_a_day: true, single_use: false, used_at: null },
  ]);
  await assert.rejects(pool.query(`INSERT INTO join_tokens (id, token_hash) VALUES ('k3', 'h3')`), /expires_at/);
});
