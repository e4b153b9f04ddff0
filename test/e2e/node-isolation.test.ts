/**
 * Tenants on one node, on the real stack (agent and proxy run as root, as in CI and as installed):
 * app B of project beta attacks app A of project alpha and the platform from inside its own task,
 * and every attempt fails with EACCES/EPERM while A keeps serving. Needs root (only root can give
 * tasks uids of their own); without it the suite is skipped.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { Deployment } from '../../protocol/index.js';
import { waitFor } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { testDatabase } from '../support/database.js';
import { apiClient, taskPortRange } from './agent-support.js';

const SECRET = 'alpha-secret-7d1f0c2e';

/** Prints its secret (so raw logs hold it), keeps a private file, and says who and where it is. */
const APP_A = {
  'server.mjs': `
import http from 'node:http';
import fs from 'node:fs';
console.log('alpha secret is ' + process.env.ALPHA_SECRET);
fs.writeFileSync('private.txt', 'alpha private data');
const pgid = Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[2]);
http.createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, pgid, cwd: process.cwd(), uid: process.getuid() })))
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
};

/** POST /attack with a list of attempts answers, per attempt, the errno code it got ("SUCCEEDED" if none). */
const APP_B = {
  'server.mjs': `
import http from 'node:http';
import fs from 'node:fs';
const kinds = {
  read: (a) => fs.readFileSync(a.path),
  list: (a) => fs.readdirSync(a.path),
  write: (a) => fs.writeFileSync(a.path, 'planted by beta'),
  readlink: (a) => fs.readlinkSync(a.path),
  kill: (a) => process.kill(a.pid, a.signal),
};
const attempt = (a) => {
  try {
    kinds[a.kind](a);
    return 'SUCCEEDED';
  } catch (err) {
    return err.code ?? String(err);
  }
};
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/whoami') {
      const groups = /^Groups:(.*)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1].trim();
      return res.end(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups }));
    }
    if (req.url !== '/attack') return res.end('beta');
    res.end(JSON.stringify(Object.fromEntries(JSON.parse(body).map((a) => [a.name, attempt(a)]))));
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
};

type Attempt = { name: string; kind: 'read' | 'list' | 'write' | 'readlink'; path: string } | { name: string; kind: 'kill'; pid: number; signal: string };

const notRoot = process.getuid?.() !== 0 ? 'needs root: only a root agent can run tasks as uids of their own' : false;

describe('tenant isolation on a node: an app of project beta against project alpha and the platform', { timeout: 240_000, skip: notRoot }, () => {
  let dir: string;
  let stack: Stack;
  let api: ReturnType<typeof apiClient>;
  let alpha: Deployment;
  let beta: Deployment;
  let a: { pid: number; pgid: number; cwd: string; uid: number };
  const healthCheck = { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 };
  const throughProxy = async (host: string) => {
    const res = await request(`${stack.proxyUrl}/`, { headers: { host } });
    return { status: res.statusCode, body: await res.body.text() };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-isolation-e2e-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('isolation'),
      heartbeatIntervalMs: 1000,
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange() },
      echo: process.env.ZECTRE_TEST_ECHO === '1',
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    alpha = await api.deploy('alpha', APP_A, { command: 'node server.mjs', replicas: 1, env: { ALPHA_SECRET: SECRET }, healthCheck });
    beta = await api.deploy('beta', APP_B, { command: 'node server.mjs', replicas: 1, healthCheck });
    a = (await (await fetch(`http://127.0.0.1:${alpha.tasks[0]!.port}/`)).json()) as typeof a;
  });
  after(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('each project runs as an unprivileged uid of its own, without supplementary groups', async () => {
    const b = (await (await fetch(`http://127.0.0.1:${beta.tasks[0]!.port}/whoami`)).json()) as { uid: number; gid: number; groups: string };
    for (const uid of [a.uid, b.uid]) assert.ok(uid >= 200_000 && uid <= 299_999, `uid ${uid} is from the agent's range`);
    assert.notEqual(a.uid, b.uid);
    assert.equal(b.gid, b.uid);
    assert.equal(b.groups, '');
  });

  test('every attempt of beta on alpha and on the platform fails with EACCES or EPERM, and alpha keeps serving', async () => {
    const state = join(dir, 'state');
    const agentState = join(state, 'agent');
    const alphaTask = alpha.tasks[0]!.id;
    const logs = join(agentState, 'tasks', alphaTask, 'logs');
    const read = (name: string, path: string): Attempt => ({ name, kind: 'read', path });
    const attempts: Attempt[] = [
      read("alpha's environ", `/proc/${a.pid}/environ`),
      read("alpha's code", join(a.cwd, 'server.mjs')),
      read("alpha's private file", join(a.cwd, 'private.txt')),
      { name: "alpha's directory listing", kind: 'list', path: a.cwd },
      { name: "a file planted in alpha's directory", kind: 'write', path: join(a.cwd, 'planted.txt') },
      { name: "alpha's cwd through /proc", kind: 'readlink', path: `/proc/${a.pid}/cwd` },
      { name: 'the list of task directories', kind: 'list', path: dirname(a.cwd) },
      { name: "the agent's state directory", kind: 'list', path: agentState },
      read('the node credential (identity.json)', join(agentState, 'identity.json')),
      read("alpha's task record", join(agentState, 'tasks', alphaTask, 'task.json')),
      read("alpha's raw stdout", join(logs, 'stdout.raw')),
      read("alpha's log spool", join(logs, 'spool-1.jsonl')),
      read("alpha's cached artifact", join(agentState, 'artifacts', `${alpha.artifact.slice('sha256:'.length)}.tar.gz`)),
      read("the agent's environ (join token)", `/proc/${stack.agent.proc.pid}/environ`),
      read("the proxy's environ (DATABASE_URL)", `/proc/${stack.proxy.proc.pid}/environ`),
      read("the stack's Worker secrets", join(state, 'secrets.json')),
      read("the stack's admin token", join(state, 'credentials.json')),
      { name: 'SIGTERM to alpha', kind: 'kill', pid: a.pid, signal: 'SIGTERM' },
      { name: "SIGKILL to alpha's process group", kind: 'kill', pid: -a.pgid, signal: 'SIGKILL' },
    ];
    const res = await fetch(`http://127.0.0.1:${beta.tasks[0]!.port}/attack`, { method: 'POST', body: JSON.stringify(attempts) });
    const got = (await res.json()) as Record<string, string>;
    const expected = Object.fromEntries(attempts.map((t) => [t.name, t.kind === 'kill' ? 'EPERM' : 'EACCES']));
    assert.deepEqual(got, expected);
    assert.equal(existsSync(join(a.cwd, 'planted.txt')), false);

    const served = await waitFor('alpha through the proxy', async () => {
      const r = await throughProxy(`alpha.${stack.appsDomain}`);
      return r.status === 200 && r;
    }, 20_000);
    assert.equal((JSON.parse(served.body) as typeof a).pid, a.pid, 'the very same process still serves');
  });

  test("alpha's secret is nowhere on disk in clear: not in its task record, and freed from its raw log once spooled", async () => {
    const taskDir = join(dir, 'state', 'agent', 'tasks', alpha.tasks[0]!.id);
    assert.ok(!readFileSync(join(taskDir, 'task.json'), 'utf8').includes(SECRET), 'task.json holds no env value');
    // The line left the agent redacted (the spool's segments are deleted once the API has them).
    await waitFor('the redacted line in the API', async () =>
      JSON.stringify(await api.call('GET', '/api/v1/projects/alpha/logs')).includes('alpha secret is [redacted]'), 20_000);
    await waitFor('the raw bytes freed', async () => !readFileSync(join(taskDir, 'logs', 'stdout.raw'), 'utf8').includes(SECRET), 20_000);
    for (const f of readdirSync(join(taskDir, 'logs'))) {
      assert.ok(!readFileSync(join(taskDir, 'logs', f), 'utf8').includes(SECRET), `${f} holds the secret in clear`);
    }
  });
});
