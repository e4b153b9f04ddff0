/**
 * Certificates on disk (issue 11 point 4, issue 14 point 8): a proxy started while its database is
 * unreachable serves the custom domains' certificates the last proxy loaded, by SNI, their keys
 * still encrypted on disk; once the database answers, its certificates replace them.
 * Real database behind the real bridge (stopped for the outage), real proxies, a real app,
 * openssl-made certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { encrypt } from '../protocol/crypto.js';
import { startProxy, type ProxyConfig } from './proxy.js';
import { createTestDb, eventually, seedLiveApp, seedNode, startBackend, type Backend, type TestDb } from './testing.js';

const HOST = 'shop.example.com';
const certKey = randomBytes(32).toString('base64');
let t: TestDb;
let dir: string;
let app: Backend;
let projectId: string;

/** A self-signed certificate for HOST: its PEM, and its key as the database holds it (encrypted). */
function makeCert(name: string): { certPem: string; keyEnc: Promise<string> } {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${HOST}`,
    '-addext', `subjectAltName=DNS:${HOST}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`),
  ], { stdio: 'ignore' });
  return { certPem: readFileSync(join(dir, `${name}.crt`), 'utf8'), keyEnc: encrypt(certKey, readFileSync(join(dir, `${name}.key`), 'utf8')) };
}

/** What the issuer does (routing.acme_issued): the certificate, a new cert_version and a route epoch bump. */
async function issue(cert: { certPem: string; keyEnc: Promise<string> }): Promise<void> {
  await t.tx([
    ["UPDATE domains SET status = 'active', cert_pem = $2, key_enc = $3, cert_version = nextval('domain_cert_versions') WHERE hostname = $1", [HOST, cert.certPem, await cert.keyEnc]],
    ["WITH e AS (UPDATE route_epoch SET epoch = epoch + 1 RETURNING epoch) SELECT pg_notify('zectre_routes', epoch::text) FROM e"],
  ]);
}

/** The certificate the proxy presents for HOST, validated against `ca`. */
const served = (port: number, ca: string) =>
  new Promise<X509Certificate>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: HOST, ca }, () => {
      const cert = socket.getPeerX509Certificate()!;
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });

const get = (port: number, ca: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, servername: HOST, headers: { host: HOST }, ca, agent: false, path: '/' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });

before(async () => {
  t = await createTestDb();
  dir = mkdtempSync(join(tmpdir(), 'zectre-cert-snapshot-'));
  app = await startBackend('shop');
  const node = await seedNode(t);
  ({ projectId } = await seedLiveApp(t, 'shop', node, [app.port]));
  await t.tx([['INSERT INTO domains (hostname, project_id) VALUES ($1, $2)', [HOST, projectId]]]);
}, { timeout: 60_000 });

after(async () => {
  await t?.restartBridge().catch(() => {});
  await app?.kill();
  await t?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, { timeout: 30_000 });

test('with the database unreachable at startup, a proxy serves the saved certificates by SNI, keys encrypted on disk, until the database answers', { timeout: 60_000 }, async () => {
  const stateDir = join(dir, 'proxy');
  const config = (log: (m: string) => void): ProxyConfig => ({
    db: t.db, appsDomain: 'apps.test', host: '127.0.0.1', port: 0, pollIntervalMs: 100, stateDir,
    tls: { port: 0, certificates: [] }, acme: { certKey }, log,
  });
  const first = makeCert('first');
  await issue(first);
  const seen = await startProxy(config(() => {}));
  try {
    assert.equal((await served(seen.tlsPort!, first.certPem)).subject, `CN=${HOST}`);
  } finally {
    await seen.close();
  }
  const file = readdirSync(stateDir).find((f) => f.startsWith('certificates-'));
  assert.match(file ?? '', /^certificates-[0-9a-f]{16}\.json$/, readdirSync(stateDir).join(', '));
  assert.equal(statSync(join(stateDir, file!)).mode & 0o777, 0o600);
  const saved = readFileSync(join(stateDir, file!), 'utf8');
  assert.ok(!saved.includes('PRIVATE KEY'), 'a private key in clear on disk');
  assert.ok(saved.includes(await first.keyEnc), 'the key as the database holds it');

  // Renewed while no proxy runs: the database's certificate must replace the saved one later.
  const second = makeCert('second');
  await issue(second);
  await t.stopBridge();
  const logs: string[] = [];
  const proxy = await startProxy(config((m) => logs.push(m)));
  try {
    assert.ok(logs.some((l) => /certificate database unreachable at startup .*serving the 1 domain certificates saved at .* until it answers/.test(l)), logs.join('\n'));
    const cert = await served(proxy.tlsPort!, first.certPem);
    assert.equal(cert.fingerprint256, new X509Certificate(first.certPem).fingerprint256);
    const answer = await get(proxy.tlsPort!, first.certPem);
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).backend, 'shop');

    await t.restartBridge();
    const secondPrint = new X509Certificate(second.certPem).fingerprint256;
    await eventually('the certificate of the database', async () => (await served(proxy.tlsPort!, second.certPem)).fingerprint256 === secondPrint, 30_000);
    assert.ok(logs.some((l) => /domain certificates loaded: 1; the saved certificates are no longer served/.test(l)), logs.join('\n'));
  } finally {
    await proxy.close();
  }
  assert.ok(readFileSync(join(stateDir, file!), 'utf8').includes(await second.keyEnc), 'the database\'s certificate saved in turn');
});
