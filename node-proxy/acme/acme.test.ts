/**
 * Issue 11.4 end to end against Pebble (Let's Encrypt's test CA): a proxy logged in as the
 * restricted proxy role orders a certificate for a custom domain through HTTP-01 answered on its
 * own HTTP port, serves it by SNI, renews it without a restart, and marks a domain whose challenge
 * cannot be reached as failed with the CA's reason.
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../dev/ports.js';
import { createPool, type DbOptions } from '../../sql/connect.js';
import { createProxyRole } from '../../sql/proxy-role.js';
import { startProxy, type Proxy } from '../proxy.js';
import { createTestDb, eventually, seedLiveApp, seedNode, startBackend, type Backend, type TestDb } from '../testing.js';
import { ensurePebble, startPebble, type Pebble } from './pebble.js';

const skip = ensurePebble() ?? false;
const pglite = process.env.ZECTRE_TEST_DB === 'pglite';
const HOST = 'shop.example.com';
const NOWHERE = 'nowhere.example.com';
const ISSUE_MS = 60_000;

describe('custom domains with certificates from an ACME CA', { skip }, () => {
  let t: TestDb;
  let pebble: Pebble;
  let proxy: Proxy;
  let app: Backend;
  let projectId: string;
  let root: string;
  let proxyDb: DbOptions;
  const logs: string[] = [];

  const domain = async (hostname: string) =>
    ((await t.tx([['SELECT status, status_message, cert_version FROM domains WHERE hostname = $1', [hostname]]]))[0]![0] ?? null) as {
      status: string;
      status_message: string;
      cert_version: string | null;
    } | null;
  /** What the API does: the row and a route epoch bump with NOTIFY, in one transaction. */
  const change = (sql: string, params: unknown[]) =>
    t.tx([[sql, params], ["WITH e AS (UPDATE route_epoch SET epoch = epoch + 1 RETURNING epoch) SELECT pg_notify('zectre_routes', epoch::text) FROM e"]]);
  /** The certificate the proxy presents for `servername`, validated against Pebble's issuing root. */
  const served = (servername: string) =>
    new Promise<X509Certificate>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: proxy.tlsPort!, servername, ca: root }, () => {
        const cert = socket.getPeerX509Certificate()!;
        socket.end();
        resolve(cert);
      });
      socket.on('error', reject);
    });

  before(async () => {
    t = await createTestDb();
    app = await startBackend('shop');
    const node = await seedNode(t);
    ({ projectId } = await seedLiveApp(t, 'shop', node, [app.port]));
    const port = await freePort();
    pebble = await startPebble(port);
    // PGlite has one user: there the proxy logs in as it.
    proxyDb = pglite ? t.db : { ...t.db, databaseUrl: (await createProxyRole(t.db, `acme-${process.pid}`, null)).databaseUrl };
    proxy = await startProxy({
      db: proxyDb,
      appsDomain: 'apps.test',
      host: '127.0.0.1',
      port,
      tls: { port: 0, certificates: [] },
      acme: {
        certKey: randomBytes(32).toString('base64'),
        issuer: { directoryUrl: pebble.directoryUrl, email: 'ops@example.com', directoryCa: pebble.listenerCa, pollMs: 100, intervalMs: 1_000 },
      },
      log: (m) => logs.push(m),
    });
    root = await pebble.issuingRoot();
  });
  after(async () => {
    await proxy?.close();
    await pebble?.stop();
    await app?.kill();
    await t?.drop();
  });

  test('a domain gets a certificate; HTTPS by SNI reaches the app with Pebble chain', async () => {
    await change('INSERT INTO domains (hostname, project_id) VALUES ($1, $2)', [HOST, projectId]);
    await eventually(`${HOST} to become active`, async () => (await domain(HOST))?.status === 'active', ISSUE_MS);
    await eventually('the proxy to serve the new certificate', async () => (await served(HOST)).subject.includes(HOST));
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: proxy.tlsPort!, servername: HOST, headers: { host: HOST }, ca: root, agent: false, path: '/hello' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject).end();
    });
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).backend, 'shop');
    // The key is stored encrypted, never as PEM.
    const [[row]] = (await t.tx([['SELECT key_enc FROM domains WHERE hostname = $1', [HOST]]])) as [[{ key_enc: string }]];
    assert.match(row.key_enc, /^v1:/);
  });

  test('a renewal due is ordered and served without a restart', async () => {
    const before = await served(HOST);
    const version = (await domain(HOST))!.cert_version;
    await change("UPDATE domains SET renew_after = now() - interval '1 second' WHERE hostname = $1", [HOST]);
    await eventually('a new certificate', async () => (await domain(HOST))?.cert_version !== version, ISSUE_MS);
    await eventually('the proxy to serve it', async () => (await served(HOST)).serialNumber !== before.serialNumber);
    const after = await served(HOST);
    assert.ok(new Date(after.validFrom) >= new Date(before.validFrom));
    assert.equal((await domain(HOST))!.status, 'active');
  });

  test('a domain whose challenge cannot be reached fails with the reason', async () => {
    // Resolves to an address where no proxy listens.
    await pebble.setA(NOWHERE, '127.0.0.2');
    await change('INSERT INTO domains (hostname, project_id) VALUES ($1, $2)', [NOWHERE, projectId]);
    await eventually(`${NOWHERE} to fail`, async () => (await domain(NOWHERE))?.status === 'failed', ISSUE_MS);
    const failed = (await domain(NOWHERE))!;
    assert.match(failed.status_message, /127\.0\.0\.2|connect|refused/i, failed.status_message);
    await assert.rejects(served(NOWHERE), /no certificate|alert|handshake|socket/i);
  });

  test('the proxy role changes domains only through the acme functions', { skip: pglite && 'PGlite has one user: roles need PostgreSQL' }, async () => {
    const pool = createPool(proxyDb, 1);
    pool.on('error', () => {});
    try {
      for (const sql of [
        "UPDATE domains SET status = 'active'",
        'SELECT key_enc FROM domains',
        'SELECT key_enc FROM acme_accounts',
        "INSERT INTO acme_challenges (token, hostname, key_authorization, expires_at) VALUES ('t', 'x', 'y', now())",
      ]) {
        const err = (await pool.query(sql).then(() => null, (e: { code?: string }) => e)) as { code?: string } | null;
        assert.equal(err?.code, '42501', `${sql} should be refused to the proxy role`);
      }
    } finally {
      await pool.end();
    }
  });
});
