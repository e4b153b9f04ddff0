/**
 * Issue 11.4 end to end: `zectre domains add` through the real Worker, the real proxy process (as
 * its restricted role) ordering the certificate from Pebble, HTTPS by SNI to the deployed app with
 * Pebble's chain; the API's refusals; a domain that resolves elsewhere fails with the CA's reason;
 * `remove` stops serving it. Renewal is covered in node-proxy/acme/acme.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { runCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { freePort } from '../../dev/ports.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { ensurePebble, startPebble, type Pebble } from '../../node-proxy/acme/pebble.js';
import { eventually } from '../../node-proxy/testing.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';

const HOST = 'www.hello-shop.com';
const echo = process.env.ZECTRE_TEST_ECHO === '1';

describe('custom domains end to end (CLI, Worker, proxy, Pebble)', { skip: ensurePebble() ?? false, timeout: 600_000 }, () => {
  let dir: string;
  let pebble: Pebble;
  let stack: Stack;
  let tlsPort: number;
  let root: string;
  let env: Record<string, string>;
  const zectre = (...args: string[]): Promise<CliRun> => runCli(args, env);
  const ok = async (...args: string[]) => {
    const run = await zectre(...args);
    assert.equal(run.code, 0, `zectre ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run;
  };
  const https = (servername: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: tlsPort, servername, headers: { host: servername }, ca: root, agent: false, path: '/' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject).end();
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-domains-'));
    const proxyPort = await freePort();
    tlsPort = await freePort();
    pebble = await startPebble(proxyPort);
    await writeFile(join(dir, 'pebble-listener.pem'), pebble.listenerCa);
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('domains'),
      ports: { proxy: proxyPort },
      echo,
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(20) },
      proxyEnv: {
        ZECTRE_CERT_KEY: randomBytes(32).toString('base64'),
        ZECTRE_PROXY_TLS_PORT: String(tlsPort),
        ZECTRE_ACME_DIRECTORY: pebble.directoryUrl,
        ZECTRE_ACME_EMAIL: 'ops@hello-shop.com',
        ZECTRE_ACME_CA_FILE: join(dir, 'pebble-listener.pem'),
      },
    });
    root = await pebble.issuingRoot();
    env = { ZECTRE_CONFIG: join(dir, 'cli.json') };
    await cp(join(ROOT, 'examples/hello'), join(dir, 'hello'), { recursive: true });
    await ok('login', '--api', stack.apiUrl, '--token', stack.adminToken);
    await ok('projects', 'create', 'shop');
    await ok('deploy', join(dir, 'hello'), '--project', 'shop');
  });
  after(async () => {
    await stack?.stop();
    await pebble?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('domains add waits for the certificate; HTTPS by SNI reaches the app with Pebble chain', async () => {
    const run = await ok('domains', 'add', 'shop', HOST);
    assert.match(run.stdout, new RegExp(`${HOST} routes to shop`));
    assert.match(run.stdout, /is served with a certificate valid until/);
    await eventually('the proxy to serve the certificate', async () => (await https(HOST)).status === 200, 30_000);
    assert.match((await https(HOST)).body, /hello/i);
    const list = JSON.parse((await ok('domains', 'list', 'shop', '--json')).stdout) as { domains: { hostname: string; status: string }[] };
    assert.deepEqual(list.domains.map((d) => [d.hostname, d.status]), [[HOST, 'active']]);
  });

  test('refusals: not a host name, taken, under the apps domain', async () => {
    const bad = await zectre('domains', 'add', 'shop', 'not_a_host');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a valid host name/);
    const taken = await zectre('domains', 'add', 'shop', HOST);
    assert.match(taken.stderr, /already taken: this project already has it/);
    const reserved = await zectre('domains', 'add', 'shop', `x.${stack.appsDomain}`);
    assert.match(reserved.stderr, /under the platform's apps domain/);
  });

  test('a domain that does not point at the proxies fails with the reason', async () => {
    await pebble.setA('elsewhere.hello-shop.com', '127.0.0.2');
    const run = await zectre('domains', 'add', 'shop', 'elsewhere.hello-shop.com');
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /no certificate for elsewhere\.hello-shop\.com: .*127\.0\.0\.2.*connection refused/);
    assert.match(run.stderr, /resolves to the proxies/);
  });

  test('domains remove: the certificate is no longer served', async () => {
    await ok('domains', 'remove', 'shop', HOST);
    await eventually('the handshake to fail', () =>
      new Promise<boolean>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: HOST, ca: root }, () => (socket.end(), resolve(false)));
        socket.on('error', () => resolve(true));
      }), 30_000);
  });
});
