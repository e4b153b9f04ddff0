/**
 * Builds on the real stack (issue 13): the edge in workerd, the stack's own agent (no label) and a
 * second agent labelled `builder`. Through the HTTP API: no builder -> 503 no_builder; a source
 * upload is built on the builder only, its log lines arrive, the app goes live through the proxy;
 * the same source again hits the cache and gives the same artifact; a failing build script fails
 * with its message while the live release keeps serving; a build over its time limit is killed; a
 * canceled build stops; the build cannot read the agent's credential nor env it was not given.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { packDir } from '../../cli/pack.js';
import { defaultWorkDir } from '../../node-agent/env-config.js';
import { removeWorkRoot } from '../../node-agent/workspace.js';
import type { Build, BuildLogPage, Deployment } from '../../protocol/index.js';
import { freePort } from '../../dev/ports.js';
import { startChild, waitFor, type Child } from '../../dev/processes.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { apiClient, taskGroupsUnder, taskPortRange } from './agent-support.js';

const BUILD_SECRET = 'build-secret-4b1d9e';
const OTHER_SECRET = 'other-project-secret-77a2';
const OWN_SECRET = 'not-a-build-var-5c3e';

/** A tiny app with one real dependency (is-number, no dependencies of its own) and a build script. */
function appFiles(message: string, buildScript: string): Record<string, string> {
  const pkg = { name: 'app', version: '1.0.0', private: true, scripts: { build: 'node build.js', start: 'node server.js' }, dependencies: { 'is-number': '7.0.0' } };
  const lock = {
    name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'app', version: '1.0.0', dependencies: { 'is-number': '7.0.0' } },
      'node_modules/is-number': {
        version: '7.0.0',
        resolved: 'https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz',
        integrity: 'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
        license: 'MIT',
        engines: { node: '>=0.12.0' },
      },
    },
  };
  return {
    'package.json': JSON.stringify(pkg, null, 2),
    'package-lock.json': JSON.stringify(lock, null, 2),
    'zectre.json': JSON.stringify({ start: 'node server.js' }),
    'build.js': buildScript,
    'message.txt': message,
    'server.js': `
const http = require('node:http');
const fs = require('node:fs');
const isNumber = require('is-number');
const message = fs.readFileSync(__dirname + '/dist/message.txt', 'utf8');
http.createServer((req, res) => res.end(message + ' ' + isNumber(5))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  };
}

/** Builds dist/ and probes what the build can reach. */
const GOOD_BUILD = `
const fs = require('node:fs');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/message.txt', fs.readFileSync('message.txt', 'utf8').trim() + ' (built)');
console.log('build token is ' + process.env.SECRET_TOKEN);
let cred;
try { fs.readFileSync(process.env.CRED_PATH, 'utf8'); cred = 'READABLE'; } catch (e) { cred = e.code; }
console.log('probe credential: ' + cred);
console.log('probe other project: ' + process.env.OTHER_SECRET);
console.log('probe own non-build var: ' + process.env.OWN_VAR);
console.log('probe agent env: ' + JSON.stringify(Object.keys(process.env).filter((k) => k.startsWith('ZECTRE'))));
console.log('built for ' + process.version);
`;

describe('builds on builder nodes, end to end', { timeout: 300_000 }, () => {
  let dir: string;
  let stack: Stack;
  let builder: Child | undefined;
  let builderState: string;
  let builderWork: string;
  let api: ReturnType<typeof apiClient>;
  let pool: ReturnType<typeof createPool>;
  const sql = async (text: string, args: unknown[] = []) => (await pool.query(text, args)).rows;

  const upload = async (project: string, files: Record<string, string>): Promise<string> => {
    const src = await mkdtemp(join(dir, 'src-'));
    for (const [path, content] of Object.entries(files)) await writeFile(join(src, path), content);
    const packed = await packDir(src, { source: true });
    return (await api.call<{ digest: string }>('PUT', `/api/v1/projects/${project}/artifacts`, undefined, packed.data)).digest;
  };
  const post = (path: string, body: unknown) =>
    fetch(`${stack.apiUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const startBuild = async (project: string, body: unknown): Promise<Build> => {
    const res = await post(`/api/v1/projects/${project}/builds`, body);
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { build: Build }).build;
  };
  /** Follows the log with long polls until the build ended; returns the lines and the final build. */
  const follow = async (id: string): Promise<{ lines: string[]; build: Build }> => {
    const lines: string[] = [];
    let after = 0;
    for (;;) {
      const page = await api.call<BuildLogPage>('GET', `/api/v1/builds/${id}/logs?after=${after}&wait=20`);
      for (const l of page.lines) lines.push(l.line);
      after = page.lines.at(-1)?.seq ?? after;
      if (page.done) break;
    }
    return { lines, build: (await api.call<{ build: Build }>('GET', `/api/v1/builds/${id}`)).build };
  };
  const throughProxy = async (project: string) => {
    const res = await request(`${stack.proxyUrl}/`, { headers: { host: `${project}.${stack.appsDomain}` } });
    return { status: res.statusCode, body: await res.body.text() };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-builds-e2e-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('builds'),
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(50) },
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    pool = createPool(stack.db.options, 2);
    for (const name of ['web', 'other']) await api.call('POST', '/api/v1/projects', { name });
    await api.call('PUT', '/api/v1/projects/other/env', { vars: { OTHER_SECRET } });
    builderState = join(dir, 'builder-state');
    builderWork = defaultWorkDir(builderState);
    await api.call('PUT', '/api/v1/projects/web/env', {
      vars: { SECRET_TOKEN: BUILD_SECRET, CRED_PATH: join(builderState, 'identity.json'), OWN_VAR: OWN_SECRET },
    });
  });
  after(async () => {
    await builder?.stop();
    await removeWorkRoot(builderWork, () => undefined).catch(() => undefined);
    await rm(`${builderWork}-builds`, { recursive: true, force: true });
    await pool?.end();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('no builder online: 503 no_builder, saying how to add one', async () => {
    const digest = await upload('web', appFiles('v1', GOOD_BUILD));
    const res = await post('/api/v1/projects/web/builds', { sourceDigest: digest });
    assert.equal(res.status, 503);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'no_builder');
    assert.match(error.message, /install\.sh \| sh -s -- .*--labels builder/);
    assert.match(error.message, /ZECTRE_AGENT_LABELS=builder/);
    const other = await post('/api/v1/projects/web/builds', { sourceDigest: `sha256:${'a'.repeat(64)}` });
    assert.equal(other.status, 404, 'a source the project does not own');
  });

  let firstBuild: Build;
  let firstSource: string;
  test('a build runs on the builder only, streams its log, and the app goes live through the proxy', async () => {
    const credentials = JSON.parse(await readFile(join(dir, 'state', 'credentials.json'), 'utf8')) as { joinToken: string };
    builder = startChild('builder', process.execPath, ['--import', 'tsx', 'node-agent/main.ts'], {
      cwd: ROOT,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      env: {
        ...process.env,
        ZECTRE_API_URL: stack.apiUrl,
        ZECTRE_JOIN_TOKEN: credentials.joinToken,
        ZECTRE_AGENT_STATE_DIR: builderState,
        ZECTRE_AGENT_WORK_DIR: builderWork,
        ZECTRE_AGENT_NAME: 'builder',
        ZECTRE_AGENT_PORT: String(await freePort()),
        ZECTRE_AGENT_STOP_TASKS_ON_EXIT: '1',
        ZECTRE_AGENT_PORT_RANGE: taskPortRange(50),
        ZECTRE_AGENT_LABELS: 'builder',
        ZECTRE_AGENT_BUILD_POLL_MS: '200',
      },
    });
    await waitFor('the builder agent', async () => /agent ready/.test(builder!.output()), 30_000, builder);
    assert.ok(existsSync(join(builderState, 'identity.json')), 'the credential file the build will try to read');

    const digest = await upload('web', appFiles('v1', GOOD_BUILD));
    firstSource = digest;
    const queued = await startBuild('web', { sourceDigest: digest, config: { buildVars: ['SECRET_TOKEN', 'CRED_PATH'] } });
    assert.equal(queued.status, 'queued');
    const { lines, build } = await follow(queued.id);
    const log = lines.join('\n');
    assert.equal(build.status, 'succeeded', `${build.error}\n${log}`);
    firstBuild = build;
    assert.equal(build.node, 'builder');
    assert.equal(build.cache, 'miss');
    assert.match(build.artifactDigest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(build.plan && [build.plan.install, build.plan.build, build.plan.prune, build.plan.start],
      ['npm ci', 'npm run build', 'npm prune --omit=dev', 'node server.js']);
    assert.match(log, /\$ npm ci/);
    // The edge's line while queued comes first; the builder's lines follow it (none overwritten).
    assert.match(lines[0]!, /^waiting for a builder \(1 online, 0 busy; failed if none takes it within 600 s\)$/);
    assert.match(lines[1]!, /^building sha256:/);
    // Only npm's own settings reach npm: no `npm warn Unknown env config "store-dir"` on every step.
    assert.ok(!lines.some((l) => /Unknown env config/.test(l)), log);
    // The saved cache holds the downloaded packages, not just an index.
    assert.match(log, /cache: saved \([\d.]+ MiB, \d+ files\)/);
    assert.match(log, /built for v\d+/);
    // Secrets are masked; the build reached neither the agent's credential nor env it was not given.
    assert.match(log, /build token is \[redacted\]/);
    assert.ok(!log.includes(BUILD_SECRET));
    assert.match(log, /probe credential: EACCES/);
    assert.match(log, /probe other project: undefined/);
    assert.match(log, /probe own non-build var: undefined/);
    assert.match(log, /probe agent env: \[\]/);
    const stored = await sql('SELECT count(*)::int AS n FROM build_logs WHERE build_id = $1 AND line LIKE $2', [build.id, `%${BUILD_SECRET}%`]);
    assert.equal(stored[0].n, 0);
    assert.doesNotMatch(stack.agent.output(), /builder: /, 'the agent without the label never asked for builds');

    assert.ok(build.deploymentId, 'the edge deployed the build');
    await waitFor('the built release to go live', async () => {
      const d = await api.call<Deployment>('GET', `/api/v1/deployments/${build.deploymentId}`);
      if (d.status === 'failed') throw new Error(`deployment failed: ${d.statusReason}`);
      return d.status === 'live';
    }, 60_000);
    await waitFor('the app through the proxy', async () => {
      const res = await throughProxy('web');
      return res.status === 200 && res.body === 'v1 (built) true';
    }, 30_000);
  });

  test('the same source again: a cache hit and the same artifact digest', async () => {
    const queued = await startBuild('web', { sourceDigest: firstSource, deploy: false, config: { buildVars: ['SECRET_TOKEN', 'CRED_PATH'] } });
    const { lines, build } = await follow(queued.id);
    assert.equal(build.status, 'succeeded', `${build.error}\n${lines.join('\n')}`);
    assert.equal(build.cache, 'hit');
    assert.ok(!lines.some((l) => /Unknown env config/.test(l)), lines.join('\n'));
    assert.ok(!lines.some((l) => /^cache: saved/.test(l)), 'a hit is not saved again');
    assert.equal(build.artifactDigest, firstBuild.artifactDigest);
    assert.equal(build.deploymentId, null, 'deploy: false');
  });

  test('a failing build script fails with its message, and the live release keeps serving', async () => {
    const failing = `console.error("src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'."); process.exit(2);`;
    const digest = await upload('web', appFiles('v2', failing));
    const queued = await startBuild('web', { sourceDigest: digest });
    const { lines, build } = await follow(queued.id);
    assert.equal(build.status, 'failed');
    assert.match(build.error ?? '', /step build failed: `npm run build` exited with code 2/);
    assert.match(build.error ?? '', /error TS2322/);
    assert.ok(lines.some((l) => /error TS2322/.test(l)));
    assert.equal(build.deploymentId, null);
    assert.deepEqual(await throughProxy('web'), { status: 200, body: 'v1 (built) true' });
  });

  test('a build over its time limit is killed and says so', async () => {
    const digest = await upload('web', appFiles('v3', `console.log('sleeping'); setTimeout(() => {}, 600000);`));
    const queued = await startBuild('web', { sourceDigest: digest, config: { timeoutSeconds: 5 } });
    const { build } = await follow(queued.id);
    assert.equal(build.status, 'timed_out');
    // Usually in the sleeping build step; on a loaded machine the limit may already strike during install.
    assert.match(build.error ?? '', /exceeded its time limit of 5 s during step (install|build) and was killed/);
    await waitFor('no build process left', async () => taskGroupsUnder(`${builderWork}-builds`).size === 0, 10_000);
  });

  test('a canceled build is killed on its builder, and the builder takes the next', async () => {
    const digest = await upload('web', appFiles('v4', `console.log('long build'); setTimeout(() => {}, 600000);`));
    const queued = await startBuild('web', { sourceDigest: digest, config: { timeoutSeconds: 120 } });
    await waitFor('the build step', async () => (await api.call<{ build: Build }>('GET', `/api/v1/builds/${queued.id}`)).build.step === 'build', 60_000);
    const canceled = await api.call<{ build: Build }>('POST', `/api/v1/builds/${queued.id}/cancel`);
    assert.equal(canceled.build.status, 'canceled');
    await waitFor('the build process to be killed', async () => taskGroupsUnder(`${builderWork}-builds`).size === 0, 20_000);
    const next = await startBuild('web', { sourceDigest: digest, deploy: false, config: { command: 'echo quick' } });
    const { build } = await follow(next.id);
    assert.equal(build.status, 'succeeded', build.error ?? '');
    const listed = await api.call<{ builds: Build[] }>('GET', '/api/v1/projects/web/builds');
    assert.equal(listed.builds[0]!.id, next.id, 'newest first');
    assert.equal((await sql("SELECT count(*)::int AS n FROM builds WHERE node_id IS DISTINCT FROM (SELECT id FROM nodes WHERE name = 'builder') AND status <> 'queued'"))[0].n, 0);
  });

  test('a build whose builder dies is failed, saying so', async () => {
    const digest = await upload('web', appFiles('v5', `console.log('long build'); setTimeout(() => {}, 600000);`));
    const queued = await startBuild('web', { sourceDigest: digest, config: { timeoutSeconds: 300 } });
    await waitFor('the build step', async () => (await api.call<{ build: Build }>('GET', `/api/v1/builds/${queued.id}`)).build.step === 'build', 60_000);
    // A second build waits behind it: its log says so from the start.
    const waiting = await startBuild('web', { sourceDigest: digest, deploy: false });
    const first = await api.call<BuildLogPage>('GET', `/api/v1/builds/${waiting.id}/logs?after=0`);
    assert.deepEqual(first.lines.map((l) => [l.stream, l.line]), [['system', 'waiting for a builder (1 online, 1 busy; failed if none takes it within 600 s)']]);
    // The machine goes away: the agent and the build's processes with it.
    builder!.proc.kill('SIGKILL');
    for (const group of taskGroupsUnder(`${builderWork}-builds`)) process.kill(-group, 'SIGKILL');
    const build = await waitFor('the build to fail', async () => {
      const { build: b } = await api.call<{ build: Build }>('GET', `/api/v1/builds/${queued.id}`);
      return b.status !== 'running' && b;
    }, 60_000);
    assert.equal(build.status, 'failed');
    assert.match(build.error ?? '', /^builder node builder was lost during step build; run the build again$/);

    // No builder is left to take the queued build: past the bound (backdated here) it is failed, saying why and what to do.
    assert.equal((await api.call<{ build: Build }>('GET', `/api/v1/builds/${waiting.id}`)).build.status, 'queued');
    await sql(`UPDATE builds SET created_at = now() - interval '601 seconds' WHERE id = $1`, [waiting.id]);
    const { lines, build: unclaimed } = await follow(waiting.id);
    assert.equal(unclaimed.status, 'failed');
    const expected = /^no builder took this build within 600 s \(0 builder nodes online, 0 busy\); add one with: curl -fsSL .*\/install\.sh \| sh -s -- .*--labels builder .*ZECTRE_AGENT_LABELS=builder.*, then run the build again$/;
    assert.match(unclaimed.error ?? '', expected);
    assert.match(lines.at(-1)!, expected);
    assert.equal(lines.length, 2);
  });
});
