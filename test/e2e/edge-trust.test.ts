/**
 * Issue 9 on the Worker in workerd: a forged Host header changes no URL the Worker hands out (point
 * 2); artifacts belong to projects and nodes fetch only what they are told to run (6); push URLs,
 * join tokens and the local stack's bootstrap token (9). Real stack, real database, real HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DesiredState, HeartbeatResponse, RegisterResponse } from '../../protocol/index.js';
import { createJoinToken as bootstrapJoinToken } from '../../dev/bootstrap.js';
import { freePort } from '../../dev/ports.js';
import { sleep, waitFor, type Child } from '../../dev/processes.js';
import { loadOrCreateSecrets } from '../../dev/secrets.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { startWorker } from '../../dev/worker.js';
import { runCli } from '../../cli/run-cli.test-helper.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import {
  call, createApiToken, createJoinToken, createUser, deploy, expectStatus, helloArtifact, jwtClaims, registerNode, waitLive,
} from './trust-support.js';

const FORGED = 'evil.example.com';

describe('the Worker trusts configuration, not requests', { timeout: 240_000 }, () => {
  let dir: string;
  let stack: Stack;
  let pool: ReturnType<typeof createPool>;
  let artifact: { bytes: Uint8Array; digest: string };
  let joinToken: string;
  const api = () => stack.apiUrl;
  const admin = () => stack.adminToken;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-trust-'));
    stack = await startStack({ dir: join(dir, 'state'), db: testDatabase('trust'), heartbeatIntervalMs: 1000, echo: process.env.ZECTRE_TEST_ECHO === '1' });
    pool = createPool(stack.db.options, 2);
    artifact = await helloArtifact();
    joinToken = (JSON.parse(await readFile(join(dir, 'state', 'credentials.json'), 'utf8')) as { joinToken: string }).joinToken;
    await waitLive(api(), admin(), (await deploy(api(), admin(), 'alpha', artifact)).id);
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('a forged Host header changes no URL the Worker hands out (issue 9.2)', () => {
    let listener: Server;
    const pushes: string[] = [];
    let node: RegisterResponse;
    let beating = true;
    let heartbeats: Promise<void> | undefined;
    const blobUrl = () => `/registry/v1/blobs/${artifact.digest}`;

    before(async () => {
      listener = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          pushes.push(body);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const port = (listener.address() as AddressInfo).port;
      // Room for one task, so the planner spreads a two-replica deployment onto it.
      node = await registerNode(api(), joinToken, 'listener', {
        pushUrl: `http://127.0.0.1:${port}/push`,
        capacity: { cpuMillis: 100, memoryMb: 128 },
      });
      // Heartbeats as an agent would send them, so the scheduler keeps the node (and its task) while the tests run.
      heartbeats = (async () => {
        while (beating) {
          await call(api(), 'POST', `/scheduler/v1/nodes/${node.nodeId}/heartbeat`, { token: node.credential, body: { appliedGeneration: 0, tasks: [] } });
          await sleep(300);
        }
      })();
    });
    after(async () => {
      beating = false;
      await heartbeats;
      listener?.close();
    });

    test('install.sh names PUBLIC_URL, whatever Host the request carries', async () => {
      const script = await call(api(), 'GET', '/install.sh', { headers: { host: FORGED, 'x-forwarded-host': FORGED } });
      assert.equal(script.status, 200);
      assert.match(script.text, new RegExp(`^API="${api()}"$`, 'm'));
      assert.doesNotMatch(script.text, /evil/);
    });

    test('the pushed desired state and the heartbeat answer carry relative artifact URLs', async () => {
      await expectStatus(201, api(), 'POST', '/api/v1/projects', { token: admin(), body: { name: 'hosttest' } });
      await expectStatus(200, api(), 'PUT', '/api/v1/projects/hosttest/artifacts', { token: admin(), body: artifact.bytes }); // alpha uploaded these bytes
      // The deploy that places a task on the listener, and so pushes to it, arrives with a forged Host.
      const created = await expectStatus(201, api(), 'POST', '/api/v1/projects/hosttest/deployments', {
        token: admin(),
        headers: { host: FORGED },
        body: { artifact: artifact.digest, command: 'node server.js', replicas: 2 },
      });
      assert.ok(created.tasks.some((t: { nodeId: string }) => t.nodeId === node.nodeId), `no task placed on the listener node: ${JSON.stringify(created.tasks)}`);
      const pushed = await waitFor('a push listing tasks', async () => {
        const docs = pushes.map((p) => jwtClaims(JSON.parse(p).token).desired as DesiredState);
        return docs.find((d) => d.tasks.length > 0);
      }, 30_000);
      for (const t of pushed.tasks) assert.equal(t.artifact.url, blobUrl());

      const beat = (await expectStatus(200, api(), 'POST', `/scheduler/v1/nodes/${node.nodeId}/heartbeat`, {
        token: node.credential,
        headers: { host: FORGED },
        body: { appliedGeneration: 0, tasks: [] },
      })) as HeartbeatResponse;
      assert.ok(beat.desired && beat.desired.tasks.length > 0, JSON.stringify(beat));
      for (const t of beat.desired.tasks) assert.equal(t.artifact.url, blobUrl());
      assert.doesNotMatch(JSON.stringify(beat), /evil/);
    });

    test('a node fetches a blob only while it is told to run a task of it (issue 9.6)', async () => {
      const fetchBlob = () => call(api(), 'GET', blobUrl(), { token: node.credential });
      assert.equal((await fetchBlob()).status, 200, 'the listener runs hosttest tasks');
      const other = await registerNode(api(), joinToken, 'idle');
      const refused = await call(api(), 'GET', blobUrl(), { token: other.credential });
      assert.equal(refused.status, 404, refused.text);
      assert.equal(refused.body.error.code, 'artifact_not_found');
      // Once its tasks are gone (project deleted), the listener is refused too, although alpha still uses the bytes.
      await expectStatus(200, api(), 'DELETE', '/api/v1/projects/hosttest', { token: admin() });
      assert.equal((await fetchBlob()).status, 404);
    });
  });

  describe('artifacts belong to the projects that uploaded them (issue 9.6)', () => {
    let bob: { id: string; token: string };
    before(async () => {
      await expectStatus(201, api(), 'POST', '/api/v1/projects', { token: admin(), body: { name: 'beta' } });
      bob = await createUser(pool, 'bob', { beta: 'developer' });
    });

    test('another project can neither read nor deploy them, and the refusal does not name the owner', async () => {
      const read = await call(api(), 'GET', `/registry/v1/blobs/${artifact.digest}`, { token: bob.token });
      assert.equal(read.status, 404, read.text);
      const unknown = await call(api(), 'GET', `/registry/v1/blobs/sha256:${'e'.repeat(64)}`, { token: bob.token });
      assert.equal(unknown.body.error.code, read.body.error.code);
      for (const token of [bob.token, admin()]) {
        const got = await call(api(), 'POST', '/api/v1/projects/beta/deployments', { token, body: { artifact: artifact.digest, command: 'node server.js' } });
        assert.equal(got.status, 404, got.text);
        assert.equal(got.body.error.code, 'artifact_not_found');
        assert.doesNotMatch(got.text, /alpha/);
      }
      const scoped = await createApiToken(pool, (await pool.query(`SELECT id FROM users WHERE name = 'admin'`)).rows[0].id, 'beta');
      assert.equal((await call(api(), 'GET', `/registry/v1/blobs/${artifact.digest}`, { token: scoped })).status, 404);
    });

    test('the "already uploaded?" check answers for the project asked about only: alpha\'s bytes are unknown to beta', async () => {
      const ownCheck = (token: string, project: string, digest = artifact.digest) =>
        call(api(), 'GET', `/api/v1/projects/${project}/artifacts/${encodeURIComponent(digest)}`, { token });
      const mine = await ownCheck(admin(), 'alpha');
      assert.equal(mine.status, 200, mine.text);
      assert.deepEqual(mine.body, { digest: artifact.digest, size: artifact.bytes.byteLength });
      // The admin sees both projects, bob is a developer of beta: for beta, alpha's bytes look like bytes nobody uploaded.
      for (const token of [admin(), bob.token]) {
        const theirs = await ownCheck(token, 'beta');
        const nobody = await ownCheck(token, 'beta', `sha256:${'e'.repeat(64)}`);
        assert.equal(theirs.status, 404, theirs.text);
        assert.equal(nobody.status, 404);
        assert.equal(theirs.body.error.code, nobody.body.error.code);
        assert.equal(theirs.body.error.message.replace(/sha256:\w+/, ''), nobody.body.error.message.replace(/sha256:\w+/, ''));
        assert.doesNotMatch(theirs.text, /alpha/);
      }
      assert.equal((await ownCheck(bob.token, 'alpha')).status, 404, 'bob is not a member of alpha');
      assert.equal((await ownCheck(bob.token, 'beta', 'sha256:nope')).status, 400);
    });

    test('uploading the same bytes makes them the uploader\'s project\'s too', async () => {
      const again = await call(api(), 'PUT', '/api/v1/projects/beta/artifacts', { token: bob.token, body: artifact.bytes });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, { digest: artifact.digest, size: artifact.bytes.byteLength });
      const check = await call(api(), 'GET', `/api/v1/projects/beta/artifacts/${artifact.digest}`, { token: bob.token });
      assert.equal(check.status, 200, check.text);
      await expectStatus(201, api(), 'POST', '/api/v1/projects/beta/deployments', {
        token: bob.token,
        body: { artifact: artifact.digest, command: 'node server.js', deadlineSeconds: 5 },
      });
      assert.equal((await call(api(), 'GET', `/registry/v1/blobs/${artifact.digest}`, { token: bob.token })).status, 200);
    });

    test('a viewer of beta may read its blobs, not upload', async () => {
      const viewer = await createUser(pool, 'vera', { beta: 'viewer' });
      assert.equal((await call(api(), 'GET', `/registry/v1/blobs/${artifact.digest}`, { token: viewer.token })).status, 200);
      const upload = await call(api(), 'PUT', '/api/v1/projects/beta/artifacts', { token: viewer.token, body: artifact.bytes });
      assert.equal(upload.status, 403, upload.text);
    });
  });

  describe('join tokens (issue 9)', () => {
    test('a single-use token from `zectre join-tokens create --single-use` registers one node; checking it does not use it up', async () => {
      const cliEnv = { ZECTRE_CONFIG: join(dir, 'cli.json') };
      assert.equal((await runCli(['login', '--api', api(), '--token', admin()], cliEnv)).code, 0);
      const created = await runCli(['join-tokens', 'create', '--single-use', '--json'], cliEnv);
      assert.equal(created.code, 0, created.stderr);
      const once = JSON.parse(created.stdout) as { secret: string; singleUse: boolean };
      assert.equal(once.singleUse, true);
      // install.sh checks a token with an empty body: refused tokens answer 401, this one is not refused.
      assert.equal((await call(api(), 'POST', '/scheduler/v1/nodes/register', { token: once.secret, body: {} })).status, 400);
      await registerNode(api(), once.secret, 'once');
      const second = await call(api(), 'POST', '/scheduler/v1/nodes/register', {
        token: once.secret,
        body: { name: 'twice', address: '127.0.0.1', capacity: { cpuMillis: 1, memoryMb: 1 } },
      });
      assert.equal(second.status, 401, second.text);
      assert.equal(second.body.error.code, 'invalid_join_token');
      const [row] = (await pool.query('SELECT single_use, used_at FROM join_tokens WHERE single_use')).rows;
      assert.equal(row.single_use, true);
      assert.ok(row.used_at, 'used_at is recorded');
    });

    test('a reusable token registers several nodes until it expires', async () => {
      const many = await createJoinToken(api(), admin(), { expiresInSeconds: 60 });
      assert.equal(many.singleUse, false);
      await registerNode(api(), many.secret, 'many-1');
      await registerNode(api(), many.secret, 'many-2');
      await pool.query(`UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [many.id]);
      assert.equal((await call(api(), 'POST', '/scheduler/v1/nodes/register', { token: many.secret, body: {} })).status, 401);
    });

    test('the local stack\'s join token expires within a day, and a new one revokes it', async () => {
      const { rows } = await pool.query(
        `SELECT expires_at > now() AND expires_at <= now() + interval '1 day' AS in_a_day FROM join_tokens WHERE revoked_at IS NULL AND created_by IS NULL`,
      );
      assert.deepEqual(rows.map((r) => r.in_a_day), [true]);
      const next = await bootstrapJoinToken(stack.db.options, joinToken);
      assert.equal((await call(api(), 'POST', '/scheduler/v1/nodes/register', { token: joinToken, body: {} })).status, 401);
      assert.equal((await call(api(), 'POST', '/scheduler/v1/nodes/register', { token: next, body: {} })).status, 400);
    });
  });

  describe('outside the local stack (issue 9)', () => {
    let deployed: Child & { url: string };
    before(async () => {
      const secrets = await loadOrCreateSecrets(join(dir, 'state', 'secrets.json'));
      deployed = await startWorker({
        port: await freePort(),
        stateDir: await mkdtemp(join(dir, 'deployed-')),
        vars: {
          ...secrets,
          DATABASE_URL: stack.db.options.databaseUrl,
          DB_WS_PROXY: stack.db.options.wsProxy!,
          APPS_DOMAIN: 'apps.example.com',
          APPS_SCHEME: 'https',
          PUBLIC_URL: '',
          ZECTRE_LOCAL_STACK: '',
        },
      });
    });
    after(async () => {
      await deployed?.stop();
    });

    test('install.sh without PUBLIC_URL is a 503 naming the setting, not a URL from the request', async () => {
      const got = await call(deployed.url, 'GET', '/install.sh', { headers: { host: FORGED } });
      assert.equal(got.status, 503, got.text);
      assert.equal(got.body.error.code, 'public_url_not_set');
      assert.match(got.body.error.message, /PUBLIC_URL/);
    });

    test('push URLs must be https into the nodes domain, at register and at heartbeat', async () => {
      const token = (await createJoinToken(deployed.url, admin())).secret;
      const register = (pushUrl: string) => call(deployed.url, 'POST', '/scheduler/v1/nodes/register', {
        token,
        body: { name: 'prod', address: '10.0.0.5', pushUrl, capacity: { cpuMillis: 1, memoryMb: 1 } },
      });
      for (const [url, rule] of [
        ['http://10.0.0.5:7070/v1/desired-state', /must use https/],
        ['https://listener.attacker.test/steal', /must point into nodes\.apps\.example\.com/],
      ] as const) {
        const got = await register(url);
        assert.equal(got.status, 400, got.text);
        assert.equal(got.body.error.code, 'invalid_push_url');
        assert.match(got.body.error.message, rule);
      }
      const node = await registerNode(deployed.url, token, 'prod');
      const beat = (pushUrl: string) => call(deployed.url, 'POST', `/scheduler/v1/nodes/${node.nodeId}/heartbeat`, {
        token: node.credential,
        body: { appliedGeneration: 0, tasks: [], pushUrl },
      });
      const refused = await beat('https://listener.attacker.test/steal');
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.error.code, 'invalid_push_url');
      const good = `https://${node.nodeId}.nodes.apps.example.com/v1/desired-state`;
      assert.equal((await beat(good)).status, 200);
      const { rows } = await pool.query('SELECT push_url FROM nodes WHERE id = $1', [node.nodeId]);
      assert.equal(rows[0].push_url, good);
    });
  });
});
