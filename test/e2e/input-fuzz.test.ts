/**
 * Property: no input makes the Worker answer 5xx. A bounded, seeded fuzz of every body and query
 * endpoint (input-fuzz-requests.ts) against the real Worker in workerd on the suite's database;
 * every 4xx must be `{error:{code,message}}` without a stack trace, and what was stored before the
 * fuzz must read back the same after it. Reproduce a run with ZECTRE_FUZZ_SEED=<printed seed>;
 * ZECTRE_FUZZ_RUNS changes the request count.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { CreatedApiToken, Deployment, HeartbeatResponse, RegisterResponse } from '../../protocol/index.js';
import { createAdminToken, createJoinToken } from '../../dev/bootstrap.js';
import { buildAssets } from '../../dev/build.js';
import { openDatabase, type LocalDatabase } from '../../dev/database.js';
import { freePort } from '../../dev/ports.js';
import { waitFor } from '../../dev/processes.js';
import { loadOrCreateSecrets } from '../../dev/secrets.js';
import { startWorker } from '../../dev/worker.js';
import { testDatabase } from '../support/database.js';
import { knownCauses, requestArbitrary, type Auth, type FuzzRequest, type Targets } from './input-fuzz-requests.js';

const SEED = Number(process.env.ZECTRE_FUZZ_SEED ?? 20_260_509);
const RUNS = Number(process.env.ZECTRE_FUZZ_RUNS ?? 1_500);
const CONCURRENCY = 4;

interface Answer {
  status: number;
  text: string;
  contentType: string;
}

describe('input fuzz: no request gets a 5xx', { timeout: 600_000 }, () => {
  let dir: string;
  let db: LocalDatabase;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let secrets: Record<Auth, string | null>;
  let targets: Targets;
  const workerErrors: string[] = [];

  const send = async (req: Pick<FuzzRequest, 'method' | 'path' | 'body' | 'auth' | 'headers'>): Promise<Answer> => {
    const token = secrets[req.auth];
    const res = await fetch(`${worker.url}${req.path}`, {
      method: req.method,
      body: req.body,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...req.headers },
    });
    return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
  };
  const api = async <T>(method: string, path: string, body?: unknown, auth: Auth = 'admin'): Promise<T> => {
    const res = await send({ method, path, auth, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as T;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-fuzz-'));
    db = await openDatabase(testDatabase('fuzz'));
    const adminToken = await createAdminToken(db.options);
    const joinToken = await createJoinToken(db.options);
    await buildAssets();
    worker = await startWorker({
      port: await freePort(),
      stateDir: dir,
      vars: {
        ...(await loadOrCreateSecrets(join(dir, 'secrets.json'))),
        DATABASE_URL: db.options.databaseUrl,
        DB_WS_PROXY: db.options.wsProxy!,
        APPS_DOMAIN: 'zectre.localhost',
        // Nodes that stop heartbeating during the fuzz stay ready: their tasks are fuzz targets.
        HEARTBEAT_INTERVAL_MS: '600000',
      },
    });
    const collect = (chunk: Buffer) => workerErrors.push(...chunk.toString().split('\n').filter((l) => /unhandled error|unvalidated/.test(l)));
    worker.proc.stdout!.on('data', collect);
    worker.proc.stderr!.on('data', collect);
    secrets = { admin: adminToken, join: joinToken, node: null, none: null };
    targets = await seed(adminToken);
  });
  after(async () => {
    await worker?.stop();
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Rows the fuzz aims at: project `fuzz` with a live release and a standby one (rollback, scale),
   * a registered node whose task takes logs, and project `keep`, which the fuzz only reads.
   */
  async function seed(adminToken: string): Promise<Targets> {
    const nodeName = 'fuzz node é';
    const node = await api<RegisterResponse>('POST', '/scheduler/v1/nodes/register', {
      name: nodeName, address: '127.0.0.1', capacity: { cpuMillis: 1_000, memoryMb: 1_280 }, portRange: [20_000, 20_099],
      // A builder (issue 13), so a valid build request is queued (201) instead of answered 503 no_builder.
      labels: { builder: 'true' },
    }, 'join');
    secrets.node = node.credential;
    for (const name of ['fuzz', 'keep']) await api('POST', '/api/v1/projects', { name });
    await api('PUT', '/api/v1/projects/keep/env', { vars: { KEEP_A: 'value é 💥 "quoted"\n', KEEP_B: '' } });
    await api('PUT', '/api/v1/projects/fuzz/env', { vars: { A: '1' } });
    await api('POST', '/api/v1/tokens', { name: 'keep-token', project: 'keep' });
    const artifact = await send({ method: 'PUT', path: '/api/v1/projects/fuzz/artifacts', auth: 'admin', body: new Uint8Array(gzipSync('fuzz')), headers: { 'content-type': 'application/gzip' } });
    const { digest } = JSON.parse(artifact.text) as { digest: string };
    const deploymentIds: string[] = [];
    let generation = 0;
    for (let release = 0; release < 2; release++) {
      const created = await api<Deployment>('POST', '/api/v1/projects/fuzz/deployments', { artifact: digest, command: 'node server.js' });
      deploymentIds.push(created.id);
      // The test plays the node's agent: take the desired state, report its tasks healthy.
      for (let i = 0; i < 20; i++) {
        const beat = await api<HeartbeatResponse>('POST', `/scheduler/v1/nodes/${node.nodeId}/heartbeat`, { appliedGeneration: generation, tasks: [] }, 'node');
        generation = beat.generation;
        const tasks = (beat.desired?.tasks ?? []).map((t) => ({ id: t.id, state: 'healthy' }));
        if (tasks.length) await api('POST', `/scheduler/v1/nodes/${node.nodeId}/heartbeat`, { appliedGeneration: generation, tasks }, 'node');
        if ((await api<Deployment>('GET', `/api/v1/deployments/${created.id}`)).status === 'live') break;
      }
      assert.equal((await api<Deployment>('GET', `/api/v1/deployments/${created.id}`)).status, 'live', `seed release ${release} never went live`);
    }
    const live = await api<Deployment>('GET', `/api/v1/deployments/${deploymentIds[1]}`);
    const taskId = live.tasks[0]!.id;
    await api('POST', `/api/v1/tasks/${taskId}/logs`, {
      entries: [1, 2, 3].map((seq) => ({ seq, ts: 1_700_000_000_000 + seq, stream: 'stdout', line: `seeded line ${seq} é` })),
    }, 'node');
    return { project: 'fuzz', deploymentIds, taskId, nodeId: node.nodeId, nodeName, digest, adminToken };
  }

  /** What must survive the fuzz unchanged: everything of `keep`, the seeded tokens, node and log lines. */
  async function snapshot() {
    const tokens = await api<{ tokens: Array<{ id: string; lastUsedAt: unknown }> }>('GET', '/api/v1/tokens');
    const node = await api<Record<string, unknown>>('GET', `/api/v1/nodes/${targets.nodeId}`);
    return {
      keep: await api('GET', '/api/v1/projects/keep'),
      keepEnv: await api('GET', '/api/v1/projects/keep/env?reveal=true'),
      keepEvents: await api('GET', '/api/v1/projects/keep/events'),
      tokens: tokens.tokens.map((t) => ({ ...t, lastUsedAt: null })),
      node: { id: node.id, name: node.name, address: node.address, capacity: node.capacity },
      logs: await api('GET', `/api/v1/projects/fuzz/logs?after=0&limit=3&task=${targets.taskId}`),
    };
  }

  /**
   * Groups failures by cause. Each 5xx is sent again, alone, and paired with the error the Worker
   * logged for it; other failures are grouped by what was wrong with the answer.
   */
  async function diagnose(failures: Failure[]): Promise<string[]> {
    const causes = new Map<string, Failure[]>();
    for (const f of failures) {
      let cause = f.problem.slice(0, 120);
      if (f.status !== undefined && f.status >= 500) {
        const seen = workerErrors.length;
        await send(f.req).catch(() => undefined);
        const logged = await waitFor('the Worker to log the error', async () => workerErrors.length > seen, 2_000).catch(() => false);
        cause = logged ? `${f.status} ${workerErrors[seen]!.replace(/^.*unhandled error:\s*/, '').replace(/\x1b\[\d+m/g, '').slice(0, 120)}` : `${cause} (no error logged when sent again)`;
      }
      const key = `${f.req.route}: ${cause}`;
      causes.set(key, [...(causes.get(key) ?? []), f]);
    }
    return [...causes].map(([cause, list]) =>
      `${list.length}x ${cause}\n${list.slice(0, 2).map((f) => `    ${f.req.method} ${elide(f.req.path)} ${typeof f.req.body === 'string' ? elide(f.req.body) : ''}`).join('\n')}`);
  }

  test('a seeded node is found by its percent-encoded name', async () => {
    const got = await api<{ id: string }>('GET', `/api/v1/nodes/${encodeURIComponent(targets.nodeName)}`);
    assert.equal(got.id, targets.nodeId);
  });

  test(`${RUNS} generated requests: no 5xx, every 4xx a JSON error, stored data intact`, async () => {
    const before = await snapshot();
    const known = knownCauses(targets);
    const requests = fc.sample(requestArbitrary(targets), { seed: SEED, numRuns: RUNS });
    console.log(`input fuzz: ${known.length} known causes, then ${RUNS} requests generated from seed ${SEED} (ZECTRE_FUZZ_SEED=${SEED} to reproduce)`);
    const failures: Failure[] = [];
    const accepted = { env: new Map<string, Set<string>>([['A', new Set(['1'])]]), tokenNames: new Set<string>() };
    const statuses = new Map<number, number>();
    let next = 0;
    const check = async (req: FuzzRequest) => {
      const answer = await send(req).catch((err: Error) => err);
      if (answer instanceof Error) {
        failures.push({ req, problem: `request failed: ${answer.message}` });
        return;
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const problem = judge(answer);
      if (problem) failures.push({ req, problem, status: answer.status });
      else if (answer.status < 300) remember(req, answer, accepted, failures);
    };
    for (const req of known) await check(req);
    const lane = async () => {
      while (next < requests.length) {
        await check(requests[next++]!);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    console.log(`input fuzz: answers by status ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // A data exception from PostgreSQL is answered 400 but logged: the schema should have let it through.
    const unvalidated = workerErrors.filter((l) => /unvalidated/.test(l)).map((l) => l.replace(/^.*input reached/, 'input reached'));
    if (failures.length || unvalidated.length) {
      assert.fail(`${failures.length} of ${known.length + requests.length} requests broke the contract (seed ${SEED}):\n${(await diagnose(failures)).join('\n')}` +
        (unvalidated.length ? `\n${unvalidated.length} values reached PostgreSQL unvalidated:\n  ${[...new Set(unvalidated)].join('\n  ')}` : ''));
    }

    // Reads over everything the fuzz stored still answer, and the seeded data reads back the same.
    for (const path of ['/api/v1/projects', '/api/v1/tokens', '/api/v1/nodes', '/api/v1/projects/fuzz/events?limit=500', '/api/v1/projects/fuzz/logs?limit=1000']) {
      await api('GET', path);
    }
    const now = await snapshot();
    now.tokens = now.tokens.filter((t) => before.tokens.some((b) => b.id === t.id));
    for (const key of Object.keys(before) as Array<keyof typeof before>) assert.deepEqual(now[key], before[key], `${key} changed during the fuzz`);
    const env = await api<{ vars: Array<{ key: string; value: string }> }>('GET', '/api/v1/projects/fuzz/env?reveal=true');
    for (const v of env.vars) assert.ok(accepted.env.get(v.key)?.has(v.value), `env ${v.key} reads back ${JSON.stringify(v.value)}, which no accepted request set`);
    const tokens = await api<{ tokens: Array<{ name: string }> }>('GET', '/api/v1/tokens');
    for (const t of tokens.tokens) assert.ok(['bootstrap', 'keep-token'].includes(t.name) || accepted.tokenNames.has(t.name), `token name ${JSON.stringify(t.name)} was never sent`);
  });
});

/** Long runs of filler shortened, so a report shows the interesting part of a request. */
const elide = (s: string) => s.replace(/x{20,}/g, (m) => `x…(${m.length})`).slice(0, 400);

/** The reason an answer breaks the contract, or null. */
function judge(answer: Answer): string | null {
  if (answer.status >= 500) return `${answer.status} ${answer.text.slice(0, 200)}`;
  if (answer.status < 400) return null;
  if (!/^application\/json\b/.test(answer.contentType)) return `${answer.status} answered ${answer.contentType || 'no content type'}`;
  let body: { error?: { code?: unknown; message?: unknown } };
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `${answer.status} answer is not JSON: ${answer.text.slice(0, 200)}`;
  }
  const { code, message } = body.error ?? {};
  if (typeof code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(code)) return `${answer.status} without a snake_case error.code: ${answer.text.slice(0, 200)}`;
  if (typeof message !== 'string' || !message) return `${answer.status} ${code} without a message`;
  if (/\n\s+at |\bat .*\.(ts|js):\d+/.test(message)) return `${answer.status} ${code} leaks a stack trace`;
  return null;
}

interface Failure {
  req: FuzzRequest;
  problem: string;
  status?: number;
}

/** Records what accepted writes stored, so the end can check nothing else was stored in their place. */
function remember(req: FuzzRequest, answer: Answer, accepted: { env: Map<string, Set<string>>; tokenNames: Set<string> }, failures: Failure[]): void {
  if (req.route === 'PUT /api/v1/projects/:project/env' && typeof req.body === 'string') {
    for (const [k, v] of Object.entries((JSON.parse(req.body) as { vars: Record<string, string> }).vars)) {
      accepted.env.set(k, (accepted.env.get(k) ?? new Set()).add(v));
    }
  }
  if (req.route === 'POST /api/v1/tokens' && typeof req.body === 'string') {
    const sent = (JSON.parse(req.body) as { name: string }).name.trim();
    const stored = (JSON.parse(answer.text) as CreatedApiToken).token.name;
    if (stored !== sent) failures.push({ req, problem: `token name ${JSON.stringify(sent)} was stored as ${JSON.stringify(stored)}` });
    accepted.tokenNames.add(stored);
  }
}
