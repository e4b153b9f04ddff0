/**
 * Proxy features beyond plain routing, each against real parts: a real database (PostgreSQL or
 * PGlite behind the bridge), real node:http / ws backends, real TLS with openssl-made certificates.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { startProxy, type Proxy } from './proxy.js';
import { createTestDb, eventually, seedNode, seedProject, seedTask, send, setLive, startBackend, type Backend, type TestDb } from './testing.js';

const domain = 'apps.test';
const logs: string[] = [];
const log = (m: string) => logs.push(m);

let t: TestDb;
let proxy: Proxy;
let certDir: string;
let web: Backend;
let wss: WebSocketServer;
let agent: ReturnType<typeof createServer>;
const agentCalls: { method?: string; url?: string; auth?: string }[] = [];

function makeCert(host: string): void {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${host}`,
    '-addext', `subjectAltName=DNS:${host}`, '-keyout', join(certDir, `${host}.key`), '-out', join(certDir, `${host}.crt`),
  ], { stdio: 'ignore' });
}

before(async () => {
  t = await createTestDb();
  const node = await seedNode(t);
  web = await startBackend('web');
  const site = await seedProject(t, 'site', 1);
  await seedTask(t, site.deploymentIds[0]!, node, web.port);
  await setLive(t, site.projectId, site.deploymentIds[0]!, false);

  // A WebSocket echo app: echoes every message and tells who it is on connect.
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ hello: req.headers['x-forwarded-host'] }));
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const chat = await seedProject(t, 'chat', 1);
  await seedTask(t, chat.deploymentIds[0]!, node, (wss.address() as AddressInfo).port);
  await setLive(t, chat.projectId, chat.deploymentIds[0]!, false);

  // The local agent's push listener, as far as the proxy can tell.
  agent = createServer((req, res) => {
    agentCalls.push({ method: req.method, url: req.url, auth: req.headers.authorization });
    req.resume();
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}'));
  });
  agent.listen(0, '127.0.0.1');
  await once(agent, 'listening');

  certDir = mkdtempSync(join(tmpdir(), 'zectre-proxy-tls-'));
  makeCert(`site.${domain}`);
  makeCert(`other.example`);

  proxy = await startProxy({
    db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, log, accessLog: true,
    maxBodyBytes: 64 * 1024, maxHeaderBytes: 8 * 1024, id: 'proxy-features',
    tls: { port: 0, certificates: [{ host: `site.${domain}`, certFile: join(certDir, `site.${domain}.crt`), keyFile: join(certDir, `site.${domain}.key`) },
      { host: 'other.example', certFile: join(certDir, 'other.example.crt'), keyFile: join(certDir, 'other.example.key') }] },
    admin: { host: '127.0.0.1', port: 0 },
    agentPush: { agentUrl: `http://127.0.0.1:${(agent.address() as AddressInfo).port}`, nodeId: 'n-local' },
  });
}, { timeout: 60_000 });

after(async () => {
  await proxy?.close();
  await web?.kill();
  wss?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  agent?.close();
  agent?.closeAllConnections();
  await t?.drop();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
}, { timeout: 30_000 });

test('a WebSocket echo works through the proxy, text and binary, with forwarding headers, and survives a route reload', async () => {
  const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`, { headers: { host: `chat.${domain}` } });
  const messages: WebSocket.RawData[] = [];
  const next = () => eventually('a message', async () => messages.length > 0).then(() => messages.shift()!);
  socket.on('message', (data) => messages.push(data));
  await once(socket, 'open');
  assert.deepEqual(JSON.parse(String(await next())), { hello: `chat.${domain}` });
  socket.send('ping text');
  assert.equal(String(await next()), 'ping text');
  socket.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.deepEqual([...(await next() as Buffer)], [1, 2, 3]);
  // A routing change (a deploy elsewhere) reloads the table; open WebSockets are not dropped.
  const other = await seedProject(t, 'elsewhere', 1);
  const epoch = await setLive(t, other.projectId, other.deploymentIds[0]!, true);
  await eventually('the reload', async () => proxy.epoch() >= epoch);
  socket.send('still there?');
  assert.equal(String(await next()), 'still there?');
  socket.close(1000);
  await once(socket, 'close');
});

test('a WebSocket upgrade for an unknown host is refused with a 404', async () => {
  const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/`, { headers: { host: `nobody.${domain}` } });
  socket.on('error', () => {}); // terminate() below reports "closed before established"
  const [, res] = (await once(socket, 'unexpected-response')) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 404);
  socket.terminate();
});

test('TLS: each host gets its own certificate by SNI, and the request is proxied with X-Forwarded-Proto https', async () => {
  const subjectFor = (servername: string) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: proxy.tlsPort!, servername, rejectUnauthorized: false }, () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.on('error', reject);
    });
  assert.equal(await subjectFor(`site.${domain}`), `site.${domain}`);
  assert.equal(await subjectFor('other.example'), 'other.example');
  assert.equal(await subjectFor('unknown.example'), `site.${domain}`); // the default certificate

  const answer = await new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: proxy.tlsPort!, servername: 'other.example', rejectUnauthorized: false }, () => {
      s.write(`GET /x HTTP/1.1\r\nHost: site.${domain}\r\nConnection: close\r\n\r\n`);
    });
    let out = '';
    s.on('data', (b) => (out += b));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 200/);
  const echoed = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { backend: string; headers: Record<string, string> };
  assert.equal(echoed.backend, 'web');
  assert.equal(echoed.headers['x-forwarded-proto'], 'https');
});

test('TLS: a WebSocket upgrade works by SNI on the default and on another certificate', async () => {
  for (const servername of [`site.${domain}`, 'other.example']) {
    // ws passes `servername` on to tls.connect; its option type does not list it.
    const options = { headers: { host: `chat.${domain}` }, servername, rejectUnauthorized: false } as WebSocket.ClientOptions;
    const socket = new WebSocket(`wss://127.0.0.1:${proxy.tlsPort}/chat`, options);
    const first = once(socket, 'message');
    await once(socket, 'open');
    assert.deepEqual(JSON.parse(String((await first)[0])), { hello: `chat.${domain}` }, servername);
    const echo = once(socket, 'message');
    socket.send(`over tls as ${servername}`);
    assert.equal(String((await echo)[0]), `over tls as ${servername}`);
    socket.close(1000);
    await once(socket, 'close');
  }
});

/** Raw bytes to the proxy's plain port; resolves with everything read once the proxy closes the connection. */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(proxy.port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (b) => (out += b));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

test('two different Content-Length headers: 400, nothing reaches the app, and the proxy keeps serving', async () => {
  const answer = await raw(`POST /dup HTTP/1.1\r\nHost: site.${domain}\r\nContent-Length: 70000\r\nContent-Length: 5\r\n\r\n${'Z'.repeat(70000)}`);
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /conflicting Content-Length/);
  assert.equal((await send(proxy.port, `site.${domain}`, '/after')).status, 200);
});

test('one Date header: the app\'s passes through once, and the proxy\'s own answers carry one', async () => {
  const dates = (answer: string) => answer.slice(0, answer.indexOf('\r\n\r\n')).split('\r\n').filter((l) => /^date:/i.test(l));
  assert.equal(dates(await raw(`GET /x HTTP/1.1\r\nHost: site.${domain}\r\nConnection: close\r\n\r\n`)).length, 1, 'an answer from the app (node:http sets Date)');
  assert.equal(dates(await raw(`GET /big?n=100000 HTTP/1.1\r\nHost: site.${domain}\r\nConnection: close\r\n\r\n`)).length, 1, 'a streamed answer from the app');
  assert.equal(dates(await raw(`GET / HTTP/1.1\r\nHost: nobody.${domain}\r\nConnection: close\r\n\r\n`)).length, 1, 'the proxy\'s own 404');
});

test('a 204, and a HEAD answered without a length, reach the client without a Content-Length', async () => {
  const noContent = await raw(`GET /status/204 HTTP/1.1\r\nHost: site.${domain}\r\nConnection: close\r\n\r\n`);
  assert.match(noContent, /^HTTP\/1\.1 204 /);
  assert.doesNotMatch(noContent, /content-length/i);
  const head = await raw(`HEAD /status/200 HTTP/1.1\r\nHost: site.${domain}\r\nConnection: close\r\n\r\n`);
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(head, /content-length: 9223372036854775808/i);
});

test('too large: a body over the limit is a 413, headers over the limit a 431', async () => {
  const big = await send(proxy.port, `site.${domain}`, '/', { method: 'POST', body: Buffer.alloc(100 * 1024, 'x') }).catch((e: Error) => e);
  if (!(big instanceof Error)) assert.equal(big.status, 413); // the proxy may also cut the upload short
  const res = await send(proxy.port, `site.${domain}`, '/', { headers: { 'x-big': 'a'.repeat(9 * 1024) } });
  assert.equal(res.status, 431);
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'headers_too_large');
});

test('agent push: POST /v1/desired-state on this node host reaches the local agent; nothing else does', async () => {
  const ok = await send(proxy.port, `n-local.nodes.${domain}`, '/v1/desired-state', {
    method: 'POST', headers: { authorization: 'Bearer signed-by-scheduler', 'content-type': 'application/json' }, body: Buffer.from('{}'),
  });
  assert.equal(ok.status, 202);
  assert.deepEqual(agentCalls.at(-1), { method: 'POST', url: '/v1/desired-state', auth: 'Bearer signed-by-scheduler' });
  const calls = agentCalls.length;
  assert.equal((await send(proxy.port, `n-local.nodes.${domain}`, '/v1/other', { method: 'POST' })).status, 404);
  assert.equal((await send(proxy.port, `n-local.nodes.${domain}`, '/v1/desired-state')).status, 404);
  assert.equal((await send(proxy.port, `n-other.nodes.${domain}`, '/v1/desired-state', { method: 'POST', body: Buffer.from('{}') })).status, 404);
  assert.equal(agentCalls.length, calls);
});

test('admin port: /metrics in Prometheus text with requests, latency, reloads and the epoch; /health', async () => {
  await send(proxy.port, `site.${domain}`, '/');
  await send(proxy.port, `nobody.${domain}`, '/');
  const metrics = await request(`http://127.0.0.1:${proxy.adminPort}/metrics`);
  assert.equal(metrics.statusCode, 200);
  const text = await metrics.body.text();
  assert.match(text, /zectre_proxy_requests_total\{status="200"\} \d+/);
  assert.match(text, /zectre_proxy_requests_total\{status="404"\} \d+/);
  assert.match(text, /zectre_proxy_request_duration_seconds_bucket\{le="0\.005"\} \d+/);
  assert.match(text, new RegExp(`zectre_proxy_route_epoch ${proxy.epoch()}`));
  assert.match(text, /zectre_proxy_route_reloads_total \d+/);
  assert.match(text, /zectre_proxy_upstream_errors_total/);
  const health = await request(`http://127.0.0.1:${proxy.adminPort}/health`);
  assert.deepEqual(await health.body.json(), { ok: true, id: 'proxy-features', epoch: proxy.epoch() });
  // The public port does not expose metrics: it is just another path for the app.
  assert.notEqual((await send(proxy.port, `nobody.${domain}`, '/metrics')).status, 200);
});

test('the access log has one line per request when enabled', async () => {
  await send(proxy.port, `site.${domain}`, '/logged?q=1', { headers: { 'x-request-id': 'rid-7' } });
  assert.ok(logs.some((l) => l.includes(`"GET site.${domain}/logged?q=1" 200`) && l.endsWith('rid-7')), logs.slice(-5).join('\n'));
});

test('the proxy reports the epoch it serves in the proxies table, and removes itself on close', async () => {
  const site = await seedProject(t, 'later', 1);
  const epoch = await setLive(t, site.projectId, site.deploymentIds[0]!, false);
  await eventually('the acknowledgement of the new epoch', async () => {
    const [rows] = await t.tx([['SELECT epoch FROM proxies WHERE id = $1', ['proxy-features']]]);
    return Number((rows![0] as { epoch: string } | undefined)?.epoch) === epoch;
  });
  const other = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, id: 'short-lived', log });
  await eventually('the second proxy to report', async () => (await t.tx([["SELECT 1 FROM proxies WHERE id = 'short-lived'"]]))[0]!.length === 1);
  await other.close();
  assert.equal((await t.tx([["SELECT 1 FROM proxies WHERE id = 'short-lived'"]]))[0]!.length, 0);
});

test('graceful shutdown: a request in flight completes, new connections are refused', async () => {
  const slowApp = createServer((_req, res) => setTimeout(() => res.end('finished'), 400));
  slowApp.listen(0, '127.0.0.1');
  await once(slowApp, 'listening');
  const slow = await seedProject(t, 'slowpoke', 1);
  const node = await seedNode(t);
  await seedTask(t, slow.deploymentIds[0]!, node, (slowApp.address() as AddressInfo).port);
  await setLive(t, slow.projectId, slow.deploymentIds[0]!, true);
  const p = await startProxy({ db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, pollIntervalMs: 100, log });
  try {
    await eventually('the route', async () => (await send(p.port, `slowpoke.${domain}`, '/')).status === 200);
    const inFlight = send(p.port, `slowpoke.${domain}`, '/');
    await new Promise((r) => setTimeout(r, 100));
    const closing = p.close();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'finished');
    await closing;
    await assert.rejects(send(p.port, `slowpoke.${domain}`, '/'));
  } finally {
    slowApp.close();
    slowApp.closeAllConnections();
  }
});

test('custom domains and path-prefix routes from the routes table: longest prefix wins, host case and port ignored', async () => {
  const api = await startBackend('api');
  try {
    const node = await seedNode(t);
    const project = await seedProject(t, 'shopapi', 1);
    await seedTask(t, project.deploymentIds[0]!, node, api.port);
    const siteId = (await t.tx([["SELECT id FROM projects WHERE slug = 'site'"]]))[0]![0] as { id: string };
    await t.tx([
      ["INSERT INTO routes (id, host, path_prefix, project_id, kind) VALUES ('r1', 'www.example.org', '/', $1, 'custom')", [siteId.id]],
      ["INSERT INTO routes (id, host, path_prefix, project_id, kind) VALUES ('r2', 'www.example.org', '/api', $1, 'custom')", [project.projectId]],
    ]);
    const epoch = await setLive(t, project.projectId, project.deploymentIds[0]!, true);
    await eventually('the reload', async () => proxy.epoch() >= epoch);
    const backendAt = async (host: string, path: string) => (await send(proxy.port, host, path)).json<{ backend: string }>().backend;
    assert.equal(await backendAt('www.example.org', '/'), 'web');
    assert.equal(await backendAt('WWW.Example.org:8080', '/api/orders?x=1'), 'api');
    assert.equal(await backendAt('www.example.org', '/api'), 'api');
    assert.equal(await backendAt('www.example.org', '/apiary'), 'web');
  } finally {
    await api.kill();
  }
});

test('optional HTTP-to-HTTPS redirect: apps get 308 to https, node push hosts do not', async () => {
  const cert = { host: `site.${domain}`, certFile: join(certDir, `site.${domain}.crt`), keyFile: join(certDir, `site.${domain}.key`) };
  const p = await startProxy({
    db: t.db, appsDomain: domain, host: '127.0.0.1', port: 0, log,
    tls: { port: 0, certificates: [cert], redirectHttp: true, publicPort: 443 },
    agentPush: { agentUrl: `http://127.0.0.1:${(agent.address() as AddressInfo).port}` },
  });
  try {
    const res = await send(p.port, `site.${domain}:80`, '/a?b=1');
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://site.${domain}/a?b=1`);
    const push = await send(p.port, `n-any.nodes.${domain}`, '/v1/desired-state', { method: 'POST', body: Buffer.from('{}') });
    assert.equal(push.status, 202);
  } finally {
    await p.close();
  }
});
