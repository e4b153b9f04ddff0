/**
 * The isolation matrix (issue 9 acceptance): every route of the Worker, running in workerd, called
 * by every kind of principal, answers exactly the status its row in isolation-rows.ts states; none
 * that must refuse answers 2xx; a project the caller cannot see is a 404 identical to an unknown
 * one; and no answer to a caller without access to alpha carries anything of alpha it did not send.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CSRF_HEADER, SESSION_COOKIE, hashToken, type Deployment } from '../../protocol/index.js';
import { ROUTES } from '../../edge/index.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { PRINCIPALS, ROWS, type PrincipalName, type Row } from './isolation-rows.js';
import {
  addMember, call, createApiToken, createJoinToken, createUser, deploy, expectStatus, helloArtifact, registerNode, waitLive, type Answer,
} from './trust-support.js';

/** Principals that must learn nothing about alpha. */
const OUTSIDERS = new Set<PrincipalName>(['none', 'wrong', 'revoked', 'scoped', 'node', 'join', 'cookie']);
const ENV_SECRET = 'alpha-secret-value-7f3a';
const UNKNOWN = { alpha: 'no-such-project', gone: 'no-such-project', deployment: 'dzzzzzzzzzzzz', digest: `sha256:${'e'.repeat(64)}` };

describe('isolation matrix: every route x every principal', { timeout: 300_000 }, () => {
  let dir: string;
  let stack: Stack;
  let pool: ReturnType<typeof createPool>;
  let bytes: Uint8Array;
  /** Secret each principal authenticates with (none for `none` and `cookie`). */
  const secrets = {} as Record<PrincipalName, string | undefined>;
  let cookie: string;
  let scopedToken: string;
  const slots: Record<string, string> = { alpha: 'alpha' };
  /** Strings of alpha an outsider must never be handed. */
  const markers: string[] = [];

  const sessionCookie = async (): Promise<string> => {
    const made = await call(stack.apiUrl, 'POST', '/api/v1/sessions', { body: { token: scopedToken } });
    const header = String(made.headers['set-cookie']);
    return new RegExp(`${SESSION_COOKIE}=[A-Za-z0-9_-]+`).exec(header)![0];
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-matrix-'));
    stack = await startStack({ dir: join(dir, 'state'), db: testDatabase('matrix'), heartbeatIntervalMs: 1000, echo: process.env.ZECTRE_TEST_ECHO === '1' });
    pool = createPool(stack.db.options, 2);
    const api = stack.apiUrl;
    const admin = stack.adminToken;
    const artifact = await helloArtifact();
    bytes = artifact.bytes;
    slots.digest = artifact.digest;

    // Alpha: env set before anything is live (no release), two releases live in turn (so a rollback has a target).
    await expectStatus(201, api, 'POST', '/api/v1/projects', { token: admin, body: { name: 'alpha' } });
    const vars: Record<string, string> = { ALPHA_SECRET: ENV_SECRET };
    for (const p of PRINCIPALS) Object.assign(vars, { [`K_${p.toUpperCase()}`]: 'k', [`U_${p.toUpperCase()}`]: 'u' });
    await expectStatus(200, api, 'PUT', '/api/v1/projects/alpha/env', { token: admin, body: { vars } });
    const first = await waitLive(api, admin, (await deploy(api, admin, 'alpha', artifact)).id);
    const live: Deployment = await waitLive(api, admin, (await deploy(api, admin, 'alpha', artifact, { env: { V: '2' } })).id);
    slots.deployment = live.id;
    slots.task = live.tasks[0]!.id;
    slots.agentNode = live.tasks[0]!.nodeId;
    const alphaId = (await pool.query(`SELECT id FROM projects WHERE slug = 'alpha'`)).rows[0].id as string;
    markers.push('alpha', alphaId, first.id, live.id, artifact.digest, ENV_SECRET);
    await expectStatus(201, api, 'POST', '/api/v1/projects', { token: admin, body: { name: 'beta' } });

    const adminId = (await pool.query(`SELECT id FROM users WHERE name = 'admin'`)).rows[0].id as string;
    const viewer = await createUser(pool, 'vic', { alpha: 'viewer' });
    const developer = await createUser(pool, 'dev', { alpha: 'developer' });
    const owner = await createUser(pool, 'olga', { alpha: 'owner' });
    const revoked = await createApiToken(pool, adminId);
    await pool.query('UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1', [await hashToken(revoked)]);
    scopedToken = await createApiToken(pool, adminId, 'beta');
    cookie = await sessionCookie();
    const joinToken = await createJoinToken(api, admin);
    const bystander = await registerNode(api, joinToken.secret, 'bystander');
    slots.bystander = bystander.nodeId;
    const victim = await createApiToken(pool, owner.id);
    slots.victim = (await pool.query('SELECT id FROM api_tokens WHERE token_hash = $1', [await hashToken(victim)])).rows[0].id;
    Object.assign(secrets, {
      none: undefined, wrong: 'zt_not-a-token-anyone-issued', revoked, scoped: scopedToken, viewer: viewer.token, developer: developer.token,
      owner: owner.token, admin, node: bystander.credential, join: joinToken.secret, cookie: undefined,
    });
    // A project of each principal's own to delete, with alpha's members.
    for (const p of PRINCIPALS) {
      await expectStatus(201, api, 'POST', '/api/v1/projects', { token: admin, body: { name: `gone-${p}` } });
      for (const [u, role] of [[viewer, 'viewer'], [developer, 'developer'], [owner, 'owner']] as const) await addMember(pool, `gone-${p}`, u.id, role);
    }
    // People (issue 12): invites, members and a user for the rows that change them.
    const invite = async () => (await expectStatus(201, api, 'POST', '/api/v1/projects/alpha/invites', { token: admin, body: { role: 'viewer' } })) as { id: string; token: string };
    slots.invite = (await invite()).id;
    slots.inviteToken = (await invite()).token;
    for (const p of PRINCIPALS) {
      slots[`acceptToken_${p}`] = (await invite()).token;
      slots[`member_${p}`] = (await createUser(pool, `rm-${p}`, { alpha: 'viewer' })).id;
    }
    slots.mia = (await createUser(pool, 'mia', { alpha: 'developer' })).id;
    slots.dora = (await createUser(pool, 'dora')).id;
    // Builds (issue 13): an ended build of alpha, made in SQL (the matrix stack has no builder node).
    slots.build = 'bmatrix000001';
    await pool.query(`INSERT INTO builds (id, project_id, source_digest, deploy, status, finished_at) VALUES ($1, $2, $3, false, 'succeeded', now())`,
      [slots.build, alphaId, artifact.digest]);
    // From here on nothing runs: requests decide, not rollouts.
    await stack.agent.stop();
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('every route of edge/index.ts has a row, and every row a route', () => {
    const covered = new Set(ROWS.map((r) => r.route));
    assert.deepEqual(ROUTES.filter((r) => !covered.has(r)), [], 'routes without a row in test/e2e/isolation-rows.ts');
    assert.deepEqual([...covered].filter((r) => !ROUTES.includes(r)), [], 'rows for routes that do not exist');
  });

  const fill = (text: string, p: PrincipalName, values: Record<string, string>) =>
    text.replace(/\{(\w+)\}/g, (_, k: string) =>
      k === 'gone' ? values.gone ?? `gone-${p}` : k === 'key' ? `K_${p.toUpperCase()}` : k === 'ukey' ? `U_${p.toUpperCase()}`
        : values[k] ?? values[`${k}_${p}`] ?? `{${k}}`);

  async function send(row: Row, p: PrincipalName, values: Record<string, string>): Promise<{ answer: Answer; sent: string }> {
    const [method] = row.route.split(' ');
    const path = fill(row.path, p, values);
    const body = row.upload ? bytes : row.body ? JSON.parse(fill(JSON.stringify(row.body(p, secrets[p])), p, values)) : undefined;
    const headers: Record<string, string> = {};
    if (p === 'cookie') {
      // Signing out ends the session: that row gets a session of its own.
      headers.cookie = row.route === 'DELETE /api/v1/sessions/current' ? await sessionCookie() : cookie;
      headers[CSRF_HEADER] = '1';
    }
    const usesBody = row.route === 'POST /api/v1/sessions';
    const answer = await call(stack.apiUrl, method!, path, { token: usesBody ? undefined : secrets[p], headers, body });
    return { answer, sent: `${path} ${row.upload ? '' : JSON.stringify(body ?? '')}` };
  }

  for (const row of ROWS) {
    test(`${row.route}${row.note ? ` (${row.note})` : ''}: ${row.path}`, async () => {
      const wrong: string[] = [];
      for (const p of PRINCIPALS) {
        const want = row.expect[p];
        const { answer, sent } = await send(row, p, slots);
        const what = `${p}: expected ${want}, got ${answer.status} ${answer.text.slice(0, 160).replace(/[^\x20-\x7e]/g, '?')}`;
        if (want >= 400 && answer.status < 300) wrong.push(`REFUSAL MISSING ${what}`);
        // Who may do what is the point here: any 2xx where one is allowed (rollback answers 200 when it
        // switches to a running standby, 201 when it has to start a release, depending on capacity).
        else if (want < 300 ? answer.status < 200 || answer.status >= 300 : answer.status !== want) wrong.push(what);
        if (answer.status >= 500) wrong.push(`${p}: a 5xx`);
        if (OUTSIDERS.has(p)) {
          for (const m of markers) if (!sent.includes(m) && !(row.showsProjectName && m === slots.alpha) && answer.text.includes(m)) wrong.push(`${p}: the answer leaks "${m}": ${answer.text.slice(0, 160)}`);
        }
        // Forbidden looks exactly like unknown: same status, code and message (names swapped).
        if (OUTSIDERS.has(p) && want === 404 && /\{(alpha|gone|deployment|digest)\}/.test(row.path)) {
          const unknown = await send(row, p, { ...slots, ...UNKNOWN });
          const norm = (a: Answer, names: string[]) =>
            `${a.status} ${a.body?.error?.code} ${names.reduce((msg, n) => msg.replaceAll(n, '<name>'), a.body?.error?.message ?? '')}`;
          const seen = norm(answer, [slots.alpha!, `gone-${p}`, slots.deployment!, slots.digest!.slice(0, 19)]);
          const none = norm(unknown.answer, Object.values(UNKNOWN).map((v) => (v.startsWith('sha256:') ? v.slice(0, 19) : v)));
          if (seen !== none) wrong.push(`${p}: forbidden differs from unknown: ${seen} vs ${none}`);
        }
      }
      assert.deepEqual(wrong, [], `${row.route} ${row.path}:\n${wrong.join('\n')}`);
    });
  }
});
