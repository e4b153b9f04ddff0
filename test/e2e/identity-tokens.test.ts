/**
 * Workload identity on the real stack (issue 12.7): a task reads ZECTRE_IDENTITY_TOKEN, which
 * verifies against the Worker's published JWKS with jose as any other service would verify it; its
 * token file is renewed by the agent (tokens live 20 s here, renewed at about half of that) and is
 * readable by the task's uid alone; another node's credential gets no token for the task; and the
 * API refuses an identity token as a bearer.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { IDENTITY_TOKEN_TYPE, type Deployment } from '../../protocol/index.js';
import { waitFor } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { apiClient, taskPortRange } from './agent-support.js';
import { call, createJoinToken, registerNode } from './trust-support.js';

const AUDIENCE = 'https://billing.example.internal';

/** Answers what a task sees of its identity: the env var it started with, and the file as it is now. */
const IDENTITY_APP = {
  'server.mjs': `
import http from 'node:http';
import { readFileSync } from 'node:fs';
http.createServer((req, res) => {
  const path = process.env.ZECTRE_IDENTITY_TOKEN_FILE;
  let file = null;
  try { file = readFileSync(path, 'utf8'); } catch {}
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ env: process.env.ZECTRE_IDENTITY_TOKEN ?? null, path: path ?? null, file, uid: process.getuid(), pid: process.pid }));
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
};

interface Seen {
  env: string | null;
  path: string | null;
  file: string | null;
  uid: number;
  pid: number;
}

describe('workload identity tokens on the real stack', { timeout: 240_000 }, () => {
  let dir: string;
  let stack: Stack;
  let pool: ReturnType<typeof createPool>;
  let deployment: Deployment;
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  let first: Seen;
  const seen = async (): Promise<Seen> => (await fetch(`http://127.0.0.1:${deployment.tasks[0]!.port}/`)).json() as Promise<Seen>;
  const verify = (token: string) =>
    jwtVerify(token, jwks, { issuer: stack.apiUrl.replace(/\/+$/, ''), audience: AUDIENCE, typ: IDENTITY_TOKEN_TYPE, algorithms: ['ES256'] });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-identity-e2e-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('identity'),
      heartbeatIntervalMs: 1000,
      workerVars: { IDENTITY_TOKEN_TTL_S: '20' },
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange() },
      echo: process.env.ZECTRE_TEST_ECHO === '1',
    });
    pool = createPool(stack.db.options, 2);
    jwks = createRemoteJWKSet(new URL(`${stack.apiUrl}/.well-known/jwks.json`));
    deployment = await apiClient(stack.apiUrl, stack.adminToken).deploy('idapp', IDENTITY_APP, {
      command: 'node server.mjs',
      replicas: 1,
      env: { ZECTRE_IDENTITY_AUDIENCE: AUDIENCE },
      healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 },
    });
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the task starts with ZECTRE_IDENTITY_TOKEN, which verifies against the JWKS and names its project, deployment and task', async () => {
    first = await seen();
    assert.ok(first.env, 'the task has ZECTRE_IDENTITY_TOKEN');
    const { payload, protectedHeader } = await verify(first.env);
    const task = deployment.tasks[0]!;
    const [project] = (await pool.query(`SELECT id FROM projects WHERE slug = 'idapp'`)).rows;
    assert.equal(protectedHeader.typ, IDENTITY_TOKEN_TYPE);
    assert.equal(payload.sub, `task:${task.id}`);
    assert.deepEqual(
      { project: payload.project, project_id: payload.project_id, deployment: payload.deployment, task: payload.task, node: payload.node },
      { project: 'idapp', project_id: project.id, deployment: deployment.id, task: task.id, node: task.nodeId },
    );
    assert.equal(payload.exp! - payload.iat!, 20, 'the lifetime the Worker was configured with');
  });

  test("the token file sits in the task's own directory, readable by the task's uid alone", async () => {
    assert.ok(first.path?.startsWith(stack.agentWorkDir), `${first.path} is under the agent's work root`);
    assert.ok(first.file, 'the file holds a token');
    await verify(first.file);
    const s = statSync(first.path!);
    assert.equal(s.uid, first.uid, 'owned by the uid the task runs as');
    assert.equal(s.mode & 0o777, 0o400);
    if (process.getuid?.() === 0) assert.notEqual(s.uid, 0, 'a root agent runs the task as a uid of its own');
  });

  test('the agent renews the token: the file gets a new one with a later expiry, the process keeps running', async () => {
    const before = (await verify(first.file!)).payload;
    const renewed: Seen = await waitFor('a renewed token in the file', async () => {
      const now = await seen();
      return now.file !== null && now.file !== first.file ? now : undefined;
    }, 60_000);
    const after: JWTPayload = (await verify(renewed.file!)).payload;
    assert.ok(after.exp! > before.exp!, 'the new token expires later');
    assert.equal(after.task, before.task);
    assert.equal(renewed.env, first.env, 'the env var stays the token the process started with');
    const [task] = (await pool.query('SELECT restarts FROM tasks WHERE id = $1', [deployment.tasks[0]!.id])).rows;
    assert.equal(task.restarts, 0);
  });

  test('an agent restarted with SIGKILL re-adopts the task and keeps renewing its file', async () => {
    const before = await seen();
    await stack.restartAgent('SIGKILL');
    const renewed: Seen = await waitFor('a token renewed by the new agent', async () => {
      const now = await seen();
      return now.file !== null && now.file !== before.file ? now : undefined;
    }, 60_000);
    assert.equal(renewed.pid, before.pid, 're-adopted, not restarted');
    await verify(renewed.file!);
  });

  test('the API refuses an identity token as a bearer', async () => {
    const answer = await call(stack.apiUrl, 'GET', '/api/v1/whoami', { token: first.env! });
    assert.equal(answer.status, 401, answer.text);
  });

  test('with the control plane down and its token expired, a crashed task restarts without one, and its file gets one once the control plane is back', async () => {
    await stack.stopWorker();
    await waitFor('a failed renewal', async () => /identity tokens for 1 task\(s\) not renewed/.test(stack.agent.output()), 60_000);
    // While its token is valid a restarted task keeps it; once it has expired there is none to give.
    const crashed: Seen = await waitFor('the token in the file to expire', async () => {
      const now = await seen();
      return now.file && decodeJwt(now.file).exp! * 1000 < Date.now() ? now : undefined;
    }, 60_000);
    process.kill(crashed.pid, 'SIGKILL');
    const restarted: Seen = await waitFor('the task restarted', async () => {
      const now = await seen().catch(() => undefined);
      return now && now.pid !== crashed.pid ? now : undefined;
    }, 60_000);
    assert.equal(restarted.env, null, 'started without ZECTRE_IDENTITY_TOKEN rather than not at all');
    assert.equal(restarted.path, first.path, 'the file to read is named all the same');
    assert.match(stack.agent.output(), /starting without ZECTRE_IDENTITY_TOKEN/);
    await stack.startWorker();
    const back: Seen = await waitFor('a valid token in the file again', async () => {
      const now = await seen();
      if (!now.file || now.file === crashed.file) return undefined;
      const valid = await verify(now.file).then((v) => v.payload.exp! * 1000 > Date.now(), () => false);
      return valid ? now : undefined;
    }, 90_000);
    assert.equal(back.pid, restarted.pid, 'the renewal did not restart the task');
  });

  test("another node's credential gets no token for the task", async () => {
    const other = await registerNode(stack.apiUrl, (await createJoinToken(stack.apiUrl, stack.adminToken)).secret, 'other');
    const taskIds = [deployment.tasks[0]!.id];
    const own = await call(stack.apiUrl, 'POST', `/scheduler/v1/nodes/${other.nodeId}/identity-tokens`, { token: other.credential, body: { taskIds } });
    assert.equal(own.status, 404, own.text);
    assert.doesNotMatch(own.text, /eyJ/, 'no JWT in the answer');
    const theirs = await call(stack.apiUrl, 'POST', `/scheduler/v1/nodes/${deployment.tasks[0]!.nodeId}/identity-tokens`, {
      token: other.credential,
      body: { taskIds },
    });
    assert.equal(theirs.status, 401, theirs.text);
  });
});
