/**
 * The dashboard in a real browser (Debian chromium via playwright-core) against the whole local
 * stack: sign in with a token, watch a CLI deploy go live, follow logs, change env, roll back, sign out.
 * Screenshots of the main pages go to dist/screenshots/ (printed at the end).
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { openPage } from './browser.js';
import { request } from 'undici';
import { runCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { ROOT } from '../../dev/root.js';
import { sleep } from '../../dev/processes.js';
import { startStack, type Stack } from '../../dev/stack.js';
import type { Deployment } from '../../protocol/index.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';

const SHOTS = join(ROOT, 'dist/screenshots');
const WAIT = { timeout: 60_000 };

describe('dashboard in chromium', { timeout: 300_000 }, () => {
  let stack: Stack;
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  const zectre = (...args: string[]): Promise<CliRun> => runCli(args, { ZECTRE_CONFIG: join(dir, 'cli.json') });
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  /** What the proxy answers for the project's live host (undici: fetch cannot set Host). */
  const liveAnswer = async () => {
    const res = await request(`${stack.proxyUrl}/`, { headers: { host: `hello.${stack.appsDomain}` } });
    return `${res.statusCode} ${await res.body.text()}`;
  };
  const eventuallyLive = async (want: RegExp) => {
    let last = '';
    for (let i = 0; i < 150; i++) {
      last = await liveAnswer().catch((e) => String(e));
      if (want.test(last)) return;
      await sleep(200);
    }
    assert.fail(`the live URL never answered ${want}; last: ${last}`);
  };
  const liveRow = () => page.locator('tr[data-status="live"]');

  const database = testDatabase('dashboard');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-dashboard-'));
    await mkdir(SHOTS, { recursive: true });
    stack = await startStack({
      dir: join(dir, 'state'),
      db: database,
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(100) },
    });
    assert.equal((await zectre('login', '--api', stack.apiUrl, '--token', stack.adminToken)).code, 0);
    assert.equal((await zectre('projects', 'create', 'hello')).code, 0);
    await cp(join(ROOT, 'examples/hello'), join(dir, 'hello'), { recursive: true });
    ({ context, page } = await openPage(join(dir, 'chromium')));
  });
  after(async () => {
    await context?.close();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (database.kind === 'pglite') await rm(dirname(database.dataDir), { recursive: true, force: true });
    console.log(`dashboard screenshots: ${SHOTS}`);
  });

  test('signs in with an API token into an HttpOnly, Secure, SameSite=Strict session; the token is not stored', async () => {
    const html = await fetch(`${stack.apiUrl}/projects/hello`);
    assert.equal(html.status, 200);
    assert.equal(html.headers.get('x-frame-options'), 'DENY', 'the dashboard must not be framed');
    assert.match(html.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    await page.goto(stack.apiUrl);
    await page.getByLabel('API token').fill('zt_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'invalid or revoked API token' }).waitFor(WAIT);
    await shot('sign-in');
    await page.getByLabel('API token').fill(stack.adminToken);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('ul.cards a.title', { hasText: 'hello' }).waitFor(WAIT);
    const [cookie, ...others] = await context.cookies(stack.apiUrl + '/api/v1/');
    assert.equal(others.length, 0);
    assert.equal(cookie!.name, 'zectre_session');
    assert.deepEqual([cookie!.httpOnly, cookie!.secure, cookie!.sameSite], [true, true, 'Strict']);
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
    assert.ok(!stored.includes(stack.adminToken.slice(3)), 'the API token was left in browser storage');
    await shot('projects');
  });

  test('a deploy started from the CLI shows up and turns live without a reload', async () => {
    await page.locator('ul.cards a.title', { hasText: 'hello' }).click();
    await page.getByText('No releases yet.').waitFor(WAIT);
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const run = await zectre('deploy', join(dir, 'hello'), '--project', 'hello', '--json');
    assert.equal(run.code, 0, `zectre deploy failed:\n${run.stdout}\n${run.stderr}`);
    const deployed = JSON.parse(run.stdout) as Deployment;
    await page.locator(`tr[data-release="${deployed.id}"][data-status="live"]`).waitFor(WAIT);
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page reloaded');
    const row = await page.locator(`tr[data-release="${deployed.id}"]`).innerText();
    assert.match(row, new RegExp(deployed.artifact.slice(7, 19)));
    assert.match(row, /admin/);
    await page.getByRole('cell', { name: /healthy/ }).first().waitFor(WAIT);
  });

  test('a line the app logs appears in the live tail', async () => {
    await eventuallyLive(/version 1/);
    await page.locator('.logs .line', { hasText: 'GET / 200' }).first().waitFor(WAIT);
    await page.getByLabel('filter logs').fill('listening on');
    await page.locator('.logs .line', { hasText: 'listening on' }).first().waitFor(WAIT);
    assert.equal(await page.locator('.logs .line', { hasText: 'GET / 200' }).count(), 0);
    await page.getByLabel('filter logs').fill('');
    await shot('project');
  });

  test('setting an env var starts a new release that goes live on the page', async () => {
    const before = await page.locator('tr[data-release]').count();
    await page.getByLabel('name', { exact: true }).fill('HELLO_VERSION');
    await page.getByLabel('value', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Set' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved HELLO_VERSION' }).waitFor(WAIT);
    await page.locator('tr[data-release]').nth(before).waitFor(WAIT);
    await page.locator('tr[data-release]').first().and(liveRow()).waitFor(WAIT);
    await eventuallyLive(/version 2/);
    assert.ok(!(await page.locator('dl.env').innerText()).includes('2\n'), 'value shown before reveal');
    await page.getByRole('button', { name: 'Reveal values' }).click();
    await page.locator('dl.env code.value', { hasText: /^2$/ }).waitFor(WAIT);
  });

  test('rolling back returns the first release to live: it runs as the standby, so routing switches to it', async () => {
    const releases = await page.locator('tr[data-release]').count();
    const first = page.locator('tr[data-release]').last();
    const firstId = await first.getAttribute('data-release');
    await first.getByRole('button', { name: 'Roll back to this' }).click();
    await page.getByRole('status').filter({ hasText: `Rolling back to ${firstId}.` }).waitFor(WAIT);
    await eventuallyLive(/version 1/);
    await page.locator(`tr[data-release="${firstId}"]`).and(liveRow()).waitFor(WAIT);
    await page.locator('ul.activity li', { hasText: `admin release ${firstId} went live (rollback: routing switched` }).waitFor(WAIT);
    assert.equal(await page.locator('tr[data-release]').count(), releases, 'no release was created');
    await shot('project-after-rollback');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('project-phone');
    await page.setViewportSize({ width: 1200, height: 900 });
  });

  test('the nodes page lists the local node with capacity and heartbeat', async () => {
    await page.getByRole('link', { name: 'Nodes' }).click();
    const node = page.locator('tr[data-node="local"]');
    await node.waitFor(WAIT);
    assert.match(await node.innerText(), /ready/);
    assert.match(await node.innerText(), /\d+s ago/);
    await shot('nodes');
  });

  test('cookie-authenticated mutations need the CSRF header', async () => {
    const answer = await page.evaluate(async () => {
      const res = await fetch('/api/v1/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"sneaky"}' });
      return { status: res.status, body: await res.json() };
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'csrf_header_missing');
  });

  test('a session acts as its token: same project scope, and it ends when the token is revoked', async () => {
    const admin = { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' };
    await fetch(`${stack.apiUrl}/api/v1/projects`, { method: 'POST', headers: admin, body: '{"name":"other"}' });
    const created = await fetch(`${stack.apiUrl}/api/v1/tokens`, { method: 'POST', headers: admin, body: '{"name":"ci","project":"hello"}' });
    assert.equal(created.status, 201);
    const { token, secret } = (await created.json()) as { token: { id: string }; secret: string };
    const signIn = (headers: Record<string, string>, body: string) => fetch(`${stack.apiUrl}/api/v1/sessions`, { method: 'POST', headers, body });
    assert.equal((await signIn({}, JSON.stringify({ token: secret }))).status, 415);
    assert.equal((await signIn({ 'content-type': 'application/json' }, '{"token":""}')).status, 400);
    const session = await signIn({ 'content-type': 'application/json' }, JSON.stringify({ token: secret }));
    assert.equal(session.status, 201);
    const cookie = session.headers.getSetCookie()[0]!.split(';')[0]!;
    const projects = await (await fetch(`${stack.apiUrl}/api/v1/projects`, { headers: { cookie } })).json();
    assert.deepEqual(projects.projects.map((p: { name: string }) => p.name), ['hello']);
    await fetch(`${stack.apiUrl}/api/v1/tokens/${token.id}`, { method: 'DELETE', headers: admin });
    const after = await fetch(`${stack.apiUrl}/api/v1/projects`, { headers: { cookie } });
    assert.equal(after.status, 401);
    assert.equal(((await after.json()) as { error: { code: string } }).error.code, 'session_expired');
  });

  test('scaling from the page runs more tasks of the live release', async () => {
    await page.goto(`${stack.apiUrl}/projects/hello`);
    await page.getByLabel('Replicas').fill('2');
    await page.getByRole('button', { name: 'Scale' }).click();
    await page.getByRole('status').filter({ hasText: 'Scaling to 2 replicas' }).waitFor(WAIT);
    const live = await liveRow().getAttribute('data-release');
    await page.locator(`tr[data-task-of="${live}"]`).nth(1).waitFor(WAIT);
    await page.locator(`tr[data-task-of="${live}"]`, { hasText: 'healthy' }).nth(1).waitFor(WAIT);
  });

  test('deleting a project needs its name typed, then the list shows the empty state', async () => {
    const remove = page.getByRole('button', { name: 'Delete project' });
    assert.equal(await remove.isDisabled(), true);
    await page.getByLabel(/to delete the project/).fill('hello');
    await remove.click();
    await page.locator('ul.cards a.title', { hasText: 'other' }).waitFor(WAIT);
    assert.equal(await page.locator('ul.cards a.title', { hasText: 'hello' }).count(), 0);
    // Deleted elsewhere (here by the API), the last one leaves the list while the page is open.
    const other = await fetch(`${stack.apiUrl}/api/v1/projects/other`, { method: 'DELETE', headers: { authorization: `Bearer ${stack.adminToken}` } });
    assert.equal(other.status, 200);
    await page.getByText('No projects yet.').waitFor(WAIT);
    await shot('projects-empty');
    const gone = await liveAnswer();
    assert.doesNotMatch(gone, /^200/);
  });

  test('draining a node from the nodes page', async () => {
    await page.goto(`${stack.apiUrl}/nodes`);
    await page.locator('tr[data-node="local"]').getByRole('button', { name: 'Drain' }).click();
    await page.locator('tr[data-node="local"]', { hasText: 'draining' }).waitFor(WAIT);
  });

  test('the tokens page creates a token, shows its secret once, and revokes it', async () => {
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('token name').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.locator('code.secret').innerText()).trim();
    const whoami = () => fetch(`${stack.apiUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal((await whoami()).status, 200);
    await shot('tokens');
    await page.locator('tr[data-token="laptop"]').getByRole('button', { name: 'Revoke' }).click();
    await page.locator('tr[data-token="laptop"]', { hasText: 'revoked' }).waitFor(WAIT);
    assert.equal((await whoami()).status, 401);
  });

  test('signing out ends the session: the old cookie no longer works', async () => {
    const [cookie] = await context.cookies(stack.apiUrl + '/api/v1/');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor(WAIT);
    assert.deepEqual(await context.cookies(stack.apiUrl + '/api/v1/'), []);
    const replay = await fetch(`${stack.apiUrl}/api/v1/whoami`, { headers: { cookie: `zectre_session=${cookie!.value}` } });
    assert.equal(replay.status, 401);
    const bearer = await fetch(`${stack.apiUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
    assert.equal(bearer.status, 200, 'bearer tokens keep working');
  });
});
