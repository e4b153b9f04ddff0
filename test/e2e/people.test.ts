/**
 * People and roles (issue 12, point 6), end to end: the Worker in workerd on a real PostgreSQL, the
 * real `zectre` binary. Invites are one-time links with a role; members' roles change but a project
 * keeps an owner; a viewer's CLI gets a 403 that says what to do; a disabled user's credentials stop
 * working; users are an admin's business; every change is in the project's events.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SESSION_COOKIE, type AcceptedInvite, type CreatedInvite, type EventView, type InviteView, type MemberView, type UserView } from '../../protocol/index.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { createPool } from '../../sql/connect.js';
import { runCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';
import { call, createApiToken, createUser, expectStatus, type Answer } from './trust-support.js';

describe('people and roles: invites, members, users', { timeout: 600_000 }, () => {
  let dir: string;
  let stack: Stack;
  let pool: ReturnType<typeof createPool>;
  let api: string;
  let admin: string;
  let ada: { id: string; token: string };
  let bob: { id: string; token: string };

  const zectre = (token: string, ...args: string[]): Promise<CliRun> =>
    runCli(args, { ZECTRE_API_URL: api, ZECTRE_TOKEN: token, ZECTRE_CONFIG: join(dir, 'no-cli.json') });
  const ok = async (token: string, ...args: string[]): Promise<CliRun> => {
    const run = await zectre(token, ...args);
    assert.equal(run.code, 0, `zectre ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
    return run;
  };
  const invite = (role: string, token = admin, extra: Record<string, unknown> = {}): Promise<CreatedInvite> =>
    expectStatus(201, api, 'POST', '/api/v1/projects/team/invites', { token, body: { role, ...extra } });
  const members = async (): Promise<Record<string, string>> => {
    const { members: list } = (await expectStatus(200, api, 'GET', '/api/v1/projects/team/members', { token: admin })) as { members: MemberView[] };
    return Object.fromEntries(list.map((m) => [m.name, m.role]));
  };
  const events = async (): Promise<EventView[]> =>
    ((await expectStatus(200, api, 'GET', '/api/v1/projects/team/events?limit=500', { token: admin })) as { events: EventView[] }).events;
  /** The body of a dead link's answer, which must not say why it is dead. */
  const dead = (a: Answer) => `${a.status} ${a.text}`;
  let unknownAnswer: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-people-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('people'),
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(50) },
    });
    await stack.agent.stop(); // nothing here runs a task
    pool = createPool(stack.db.options, 2);
    api = stack.apiUrl;
    admin = stack.adminToken;
    await expectStatus(201, api, 'POST', '/api/v1/projects', { token: admin, body: { name: 'team' } });
    ada = await createUser(pool, 'ada');
    bob = await createUser(pool, 'bob');
    unknownAnswer = dead(await call(api, 'GET', '/api/v1/invites/zi_nobody-made-this'));
  });
  after(async () => {
    await pool?.end();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('an owner invites; anyone with the link sees the offer; a signed-in user accepts it once', async () => {
    const made = await invite('developer');
    assert.equal(made.role, 'developer');
    assert.equal(made.url, `/invite/${made.token}`);
    assert.match(made.token, /^zi_[A-Za-z0-9_-]{43}$/);
    const days = (Date.parse(made.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `default lifetime is 7 days, got ${days}`);
    // Only a hash is stored.
    const stored = await pool.query('SELECT token_hash FROM invites WHERE id = $1', [made.id]);
    assert.notEqual(stored.rows[0].token_hash, made.token);

    const preview = await expectStatus(200, api, 'GET', `/api/v1/invites/${made.token}`);
    assert.deepEqual(preview, { project: 'team', role: 'developer', invitedBy: 'admin', expiresAt: made.expiresAt });

    // Signing in is needed to accept; a project-scoped token cannot.
    assert.equal((await call(api, 'POST', `/api/v1/invites/${made.token}/accept`)).status, 401);
    const accepted = (await expectStatus(200, api, 'POST', `/api/v1/invites/${made.token}/accept`, { token: ada.token })) as AcceptedInvite;
    assert.deepEqual(
      { ...accepted, message: undefined },
      { project: 'team', role: 'developer', invitedAs: 'developer', previousRole: null, changed: true, message: undefined },
    );
    assert.equal((await members()).ada, 'developer');

    // One time only: for bob, and for the preview, it is now like a link nobody made.
    const again = await call(api, 'POST', `/api/v1/invites/${made.token}/accept`, { token: bob.token });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'invite_not_found');
    assert.equal(dead(await call(api, 'GET', `/api/v1/invites/${made.token}`)), unknownAnswer);
    assert.equal((await members()).bob, undefined);
  });

  test('concurrent accepts of one invite: exactly one wins', async () => {
    const made = await invite('viewer');
    const carol = await createUser(pool, 'carol');
    const dave = await createUser(pool, 'dave');
    const answers = await Promise.all([carol, dave].map((u) => call(api, 'POST', `/api/v1/invites/${made.token}/accept`, { token: u.token })));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 404]);
    const now = await members();
    assert.equal([now.carol, now.dave].filter(Boolean).length, 1);
  });

  test('an expired invite and a revoked one are dead links; the list never shows a token', async () => {
    const expired = await invite('viewer');
    await pool.query(`UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    assert.equal(dead(await call(api, 'GET', `/api/v1/invites/${expired.token}`)), unknownAnswer);
    assert.equal((await call(api, 'POST', `/api/v1/invites/${expired.token}/accept`, { token: bob.token })).status, 404);

    const revoked = await invite('owner');
    const answer = await expectStatus(200, api, 'DELETE', `/api/v1/projects/team/invites/${revoked.id}`, { token: admin });
    assert.equal(answer.invite.state, 'revoked');
    assert.equal(dead(await call(api, 'GET', `/api/v1/invites/${revoked.token}`)), unknownAnswer);
    assert.equal((await call(api, 'POST', `/api/v1/invites/${revoked.token}/accept`, { token: bob.token })).status, 404);
    assert.equal((await members()).bob, undefined);

    const list = await call(api, 'GET', '/api/v1/projects/team/invites', { token: admin });
    assert.equal(list.status, 200);
    const states = Object.fromEntries((list.body.invites as InviteView[]).map((i) => [i.id, i.state]));
    assert.equal(states[expired.id], 'expired');
    assert.equal(states[revoked.id], 'revoked');
    assert.ok(!list.text.includes(expired.token) && !list.text.includes(revoked.token) && !list.text.includes('zi_'), 'tokens must not be listed');
    // Invites are the owners' business: a developer neither lists nor makes them.
    assert.equal((await call(api, 'GET', '/api/v1/projects/team/invites', { token: ada.token })).status, 403);
    assert.equal((await call(api, 'POST', '/api/v1/projects/team/invites', { token: ada.token, body: { role: 'owner' } })).status, 403);
  });

  test('accepting a lower role than one held keeps the higher one, and says so', async () => {
    await expectStatus(200, api, 'POST', `/api/v1/invites/${(await invite('developer')).token}/accept`, { token: bob.token });
    const lower = (await expectStatus(200, api, 'POST', `/api/v1/invites/${(await invite('viewer')).token}/accept`, { token: bob.token })) as AcceptedInvite;
    assert.equal(lower.role, 'developer');
    assert.equal(lower.changed, false);
    assert.match(lower.message, /already were developer of project team, which is more than viewer: you keep developer/);
    const higher = (await expectStatus(200, api, 'POST', `/api/v1/invites/${(await invite('owner')).token}/accept`, { token: bob.token })) as AcceptedInvite;
    assert.deepEqual([higher.previousRole, higher.role, higher.changed], ['developer', 'owner', true]);
    await expectStatus(200, api, 'PUT', '/api/v1/projects/team/members/bob', { token: admin, body: { role: 'developer' } });
  });

  test('the CLI invites (full URL), lists, changes roles and removes; a project keeps an owner', async () => {
    const made = await ok(admin, 'members', 'invite', 'team', '--role', 'developer');
    const url = made.stdout.trim();
    assert.match(url, new RegExp(`^${api.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/invite/zi_[A-Za-z0-9_-]{43}$`));
    const token = url.split('/invite/')[1]!;
    assert.equal((await call(api, 'GET', `/api/v1/invites/${token}`)).body.role, 'developer');

    const listed = await ok(ada.token, 'members', 'list', 'team');
    assert.match(listed.stdout, /admin\s+owner/);
    assert.match(listed.stdout, /ada\s+developer/);

    await ok(admin, 'members', 'set-role', 'team', 'ada', 'viewer');
    assert.equal((await members()).ada, 'viewer');
    const bad = await zectre(admin, 'members', 'set-role', 'team', 'ada', 'king');
    assert.equal(bad.code, 2);

    // admin is team's only owner: it can neither step down nor leave.
    for (const args of [['set-role', 'team', 'admin', 'developer'], ['remove', 'team', 'admin']]) {
      const refused = await zectre(admin, 'members', ...args);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /admin is the last owner of project team; make someone else owner before you .*\(last_owner\)/);
    }
    const api409 = await call(api, 'DELETE', '/api/v1/projects/team/members/admin', { token: admin });
    assert.deepEqual([api409.status, api409.body.error.code], [409, 'last_owner']);
    // With a second owner, the first may go; then the second is the last one.
    await ok(admin, 'members', 'set-role', 'team', 'bob', 'owner');
    await expectStatus(200, api, 'PUT', '/api/v1/projects/team/members/admin', { token: bob.token, body: { role: 'developer' } });
    const last = await call(api, 'PUT', '/api/v1/projects/team/members/bob', { token: bob.token, body: { role: 'viewer' } });
    assert.deepEqual([last.status, last.body.error.code], [409, 'last_owner']);
    await expectStatus(200, api, 'PUT', '/api/v1/projects/team/members/admin', { token: bob.token, body: { role: 'owner' } });

    const gone = await createUser(pool, 'gone', { team: 'viewer' });
    await ok(admin, 'members', 'remove', 'team', 'gone');
    assert.equal((await members()).gone, undefined);
    assert.equal((await call(api, 'GET', '/api/v1/projects/team', { token: gone.token })).status, 404);
    const notMember = await zectre(admin, 'members', 'remove', 'team', 'gone');
    assert.match(notMember.stderr, /gone is not a member of project team.*\(member_not_found\)/);
  });

  test("a viewer's CLI gets a clear 403 on deploy and env set", async () => {
    assert.equal((await members()).ada, 'viewer');
    const deploy = await zectre(ada.token, 'deploy', join(ROOT, 'examples/hello'), '--project', 'team');
    const env = await zectre(ada.token, 'env', 'set', 'team', 'K=V');
    for (const run of [deploy, env]) {
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /this needs the developer role on project team; you are viewer\. An owner of team can change your role \(zectre members list team shows them\) \(forbidden\)/);
    }
    // A viewer reads members but changes none.
    assert.equal((await call(api, 'PUT', '/api/v1/projects/team/members/ada', { token: ada.token, body: { role: 'owner' } })).status, 403);
    assert.equal((await call(api, 'DELETE', '/api/v1/projects/team/members/bob', { token: ada.token })).status, 403);
  });

  test("users are an admin's: list; disable ends the user's tokens, sessions and invites; enable lets it back with new credentials", async () => {
    for (const path of ['/api/v1/users', '/api/v1/users/bob/disable', '/api/v1/users/bob/enable']) {
      const refused = await call(api, path === '/api/v1/users' ? 'GET' : 'POST', path, { token: bob.token });
      assert.equal(refused.status, 403, path);
    }
    const listed = await ok(admin, 'users', 'list');
    assert.match(listed.stdout, /bob\s+u\w+\s+active\s+team \(owner\)/);

    // bob, an owner, has a dashboard session and a pending invite.
    const session = await call(api, 'POST', '/api/v1/sessions', { body: { token: bob.token } });
    const cookie = new RegExp(`${SESSION_COOKIE}=[A-Za-z0-9_-]+`).exec(String(session.headers['set-cookie']))![0];
    assert.equal((await call(api, 'GET', '/api/v1/whoami', { headers: { cookie } })).status, 200);
    const pending = await invite('viewer', bob.token);

    const disabled = await ok(admin, 'users', 'disable', 'bob');
    assert.match(disabled.stdout, /disabled bob: 1 token\(s\) revoked, 1 session\(s\) ended, 1 invite\(s\) revoked/);
    assert.equal((await call(api, 'GET', '/api/v1/whoami', { token: bob.token })).status, 401);
    assert.equal((await call(api, 'GET', '/api/v1/whoami', { headers: { cookie } })).status, 401);
    assert.equal(dead(await call(api, 'GET', `/api/v1/invites/${pending.token}`)), unknownAnswer);
    const users = ((await expectStatus(200, api, 'GET', '/api/v1/users', { token: admin })) as { users: UserView[] }).users;
    assert.ok(users.find((u) => u.name === 'bob')!.disabledAt);
    assert.match((await ok(admin, 'members', 'list', 'team')).stdout, /bob\s+owner \(disabled\)/);
    // A disabled owner does not count: admin is again the last owner able to act.
    assert.equal((await call(api, 'PUT', '/api/v1/projects/team/members/admin', { token: admin, body: { role: 'viewer' } })).body.error.code, 'last_owner');

    await ok(admin, 'users', 'enable', 'bob');
    assert.equal((await call(api, 'GET', '/api/v1/whoami', { token: bob.token })).status, 401, 'old tokens stay revoked');
    const fresh = await createApiToken(pool, bob.id); // a new credential: made here by SQL, by a sign-in in production
    assert.equal((await call(api, 'GET', '/api/v1/projects/team', { token: fresh })).status, 200);
    assert.equal((await members()).bob, 'owner', 'memberships survive disable and enable');

    const self = await call(api, 'POST', '/api/v1/users/admin/disable', { token: admin });
    assert.deepEqual([self.status, self.body.error.code], [409, 'cannot_disable_self']);
    assert.equal((await call(api, 'POST', '/api/v1/users/nobody/disable', { token: admin })).status, 404);
  });

  test('every change is in the project events, naming who did it', async () => {
    const seen = (await events()).map((e) => `${e.kind} by ${e.actor}`);
    for (const want of [
      'invite.created by admin', 'invite.accepted by ada', 'invite.accepted by bob', 'invite.revoked by admin', 'member.role_changed by admin',
      'member.role_changed by bob', 'member.removed by admin', 'user.disabled by admin', 'user.enabled by admin', 'invite.created by bob',
    ]) assert.ok(seen.includes(want), `no "${want}" in ${JSON.stringify([...new Set(seen)])}`);
    const cli = await ok(admin, 'members', 'list', 'team', '--invites');
    assert.match(cli.stdout, /INVITE\s+ROLE\s+STATE/);
    const trail = await ok(ada.token, 'events', 'team', '-n', '500');
    assert.match(trail.stdout, /admin\s+member\.removed\s+\{.*"user":"gone".*\}/);
  });

  test('two admins disabling each other at once: one admin stays enabled', async () => {
    const eve = await createUser(pool, 'eve');
    await pool.query('UPDATE users SET is_admin = true WHERE id = $1', [eve.id]);
    const answers = await Promise.all([
      call(api, 'POST', '/api/v1/users/eve/disable', { token: admin }),
      call(api, 'POST', '/api/v1/users/admin/disable', { token: eve.token }),
    ]);
    const left = await pool.query('SELECT name FROM users WHERE is_admin AND disabled_at IS NULL');
    assert.equal(left.rowCount, 1, `answers: ${answers.map((a) => `${a.status} ${a.text}`).join(' | ')}`);
    assert.equal(answers.filter((a) => a.status === 200).length, 1);
    for (const a of answers.filter((x) => x.status !== 200)) assert.ok(a.status === 401 || a.body.error.code === 'last_admin', a.text);
  });
});
