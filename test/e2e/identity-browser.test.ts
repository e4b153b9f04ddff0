/**
 * Issue 12's acceptance in a real browser (Debian chromium via playwright-core) against the whole
 * local stack, with Chromium's virtual authenticator (CDP WebAuthn domain) standing in for each
 * person's passkey device: the setup link creates the first admin with a passkey; the admin invites
 * a developer, who enrols a passkey in a second browser context (its own authenticator) and signs
 * in; sign-out ends access; a recovery code signs in once; a CLI sign-in is approved on /device in
 * the developer's browser and the CLI deploys; a viewer's CLI gets 403 on deploy; revocation ends access.
 *
 * Passkeys need a domain as rpID, so the browser opens the dashboard at http://localhost:<port>
 * (the stack's PUBLIC_URL is http://127.0.0.1:<port>; edge/catalog/webauthn/relying-party.ts).
 */
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { launchBrowser, VIEWPORT } from './browser.js';
import { runCli, startCli, type CliRun } from '../../cli/run-cli.test-helper.js';
import { createSetupToken } from '../../dev/bootstrap.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import { testDatabase } from '../support/database.js';
import { taskPortRange } from './agent-support.js';

const SHOTS = join(ROOT, 'dist/screenshots');
const WAIT = { timeout: 60_000 };

interface Person {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
}

describe('identity: passkeys, invites, recovery and device approval in chromium', { timeout: 600_000 }, () => {
  let stack: Stack;
  let dir: string;
  let base: string;
  let browser: Browser;
  let admin: Person;
  let dev: Person;
  let adminCodes: string[] = [];
  let devCodes: string[] = [];
  const database = testDatabase('identity');
  const adminCli = (...args: string[]): Promise<CliRun> => runCli(args, { ZECTRE_CONFIG: join(dir, 'admin-cli.json') });

  /** A browser context with its own virtual authenticator: a person with their own passkey device. */
  async function person(): Promise<Person> {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    return { context, page, cdp, authenticatorId };
  }
  const credentials = async (p: Person) => (await p.cdp.send('WebAuthn.getCredentials', { authenticatorId: p.authenticatorId })).credentials;
  const shot = (p: Person, name: string) => p.page.screenshot({ path: join(SHOTS, `identity-${name}.png`), fullPage: true });
  /** What the API answers this person's browser for a GET, with its session cookie. */
  const status = (p: Person, path: string) => p.page.evaluate(async (url) => (await fetch(url)).status, `${base}${path}`);
  const readCodes = async (p: Person) => {
    await p.page.getByRole('region', { name: 'recovery codes' }).or(p.page.getByRole('alert')).first().waitFor(WAIT);
    const alert = p.page.getByRole('alert');
    if (await alert.count()) assert.fail(`enrolment failed: ${await alert.innerText()}`);
    const codes = await p.page.locator('code.recovery-code').allInnerTexts();
    assert.equal(codes.length, 10, 'ten recovery codes are shown at enrolment');
    await p.page.getByRole('button', { name: 'I saved them, continue' }).click();
    return codes;
  };
  const signOut = async (p: Person) => {
    await p.page.getByRole('button', { name: 'Sign out' }).click();
    await p.page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor(WAIT);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-identity-'));
    await mkdir(SHOTS, { recursive: true });
    stack = await startStack({
      dir: join(dir, 'state'),
      db: database,
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_PORT_RANGE: taskPortRange(100) },
    });
    base = stack.apiUrl.replace('//127.0.0.1:', '//localhost:');
    assert.equal((await adminCli('login', '--api', stack.apiUrl, '--token', stack.adminToken)).code, 0);
    assert.equal((await adminCli('projects', 'create', 'hello')).code, 0);
    await cp(join(ROOT, 'examples/hello'), join(dir, 'hello'), { recursive: true });
    browser = await launchBrowser();
    admin = await person();
    dev = await person();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (database.kind === 'pglite') await rm(dirname(database.dataDir), { recursive: true, force: true });
  });

  test('the setup link creates the first admin with a passkey and shows recovery codes once; the link then stops working', async () => {
    const token = await createSetupToken(stack.db.options);
    assert.ok(token);
    await admin.page.goto(`${base}/setup#${token}`);
    await admin.page.getByLabel('Admin name').fill('admin');
    assert.equal(new URL(admin.page.url()).hash, '', 'the setup token was left in the address bar');
    await admin.page.getByRole('button', { name: 'Create admin passkey' }).click();
    await admin.page.getByRole('region', { name: 'recovery codes' }).waitFor(WAIT);
    await shot(admin, 'recovery-codes');
    adminCodes = await readCodes(admin);
    await admin.page.locator('ul.cards a.title', { hasText: 'hello' }).waitFor(WAIT);
    const creds = await credentials(admin);
    assert.equal(creds.length, 1);
    assert.equal(creds[0]!.isResidentCredential, true, 'the passkey must be discoverable (usernameless sign-in)');
    const [cookie, ...others] = await admin.context.cookies(`${base}/api/v1/`);
    assert.equal(others.length, 0);
    assert.deepEqual([cookie!.name, cookie!.httpOnly, cookie!.secure, cookie!.sameSite], ['zectre_session', true, true, 'Strict']);
    // The same user the CLI acts as (npm start's "admin") got the passkey: one admin, not two.
    const whoami = await admin.page.evaluate(async () => (await (await fetch('/api/v1/whoami')).json()) as { user: { name: string; isAdmin: boolean } });
    assert.deepEqual([whoami.user.name, whoami.user.isAdmin], ['admin', true]);

    const again = await fetch(`${base}/api/v1/webauthn/registration/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ setupToken: token, name: 'mallory' }),
    });
    assert.equal(again.status, 403);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'setup_link_invalid');
    assert.equal(await createSetupToken(stack.db.options), null, 'no new setup link once an admin has a passkey');
  });

  test('the admin signs out and back in with the passkey alone (no name typed)', async () => {
    await signOut(admin);
    assert.equal(await status(admin, '/api/v1/whoami'), 401);
    await admin.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await admin.page.locator('ul.cards a.title', { hasText: 'hello' }).waitFor(WAIT);
    assert.equal(await status(admin, '/api/v1/whoami'), 200);
  });

  test("a copy of the admin's passkey whose signature counter went backwards (a cloned authenticator) is refused", async () => {
    const [original] = await credentials(admin);
    assert.ok(original!.signCount > 0, 'the virtual authenticator counts signatures');
    const clone = await person();
    try {
      await clone.cdp.send('WebAuthn.addCredential', { authenticatorId: clone.authenticatorId, credential: { ...original!, signCount: 0 } });
      await clone.page.goto(base);
      await clone.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await clone.page.getByRole('alert').filter({ hasText: /counter/ }).waitFor(WAIT);
      assert.equal(await status(clone, '/api/v1/whoami'), 401);
    } finally {
      await clone.context.close();
    }
  });

  let inviteLink = '';
  test('the admin invites a second person as developer from the members page; the link is shown once', async () => {
    await admin.page.goto(`${base}/projects/hello`);
    await admin.page.getByRole('link', { name: 'Members' }).click();
    await admin.page.locator('tr[data-member="admin"]').waitFor(WAIT);
    await admin.page.getByLabel('invite role').selectOption('developer');
    await admin.page.getByRole('button', { name: 'Create invite link' }).click();
    inviteLink = await admin.page.locator('code.invite-link').innerText();
    assert.match(inviteLink, new RegExp(`^${base}/invite/zi_[A-Za-z0-9_-]{43}$`));
    await admin.page.locator('tr[data-invite] .badge', { hasText: 'pending' }).waitFor(WAIT);
    await shot(admin, 'members');
  });

  test('the invited person sees project, role and inviter, enrols a passkey in their own browser and lands in the project', async () => {
    await dev.page.goto(inviteLink);
    await dev.page.locator('.invite-project', { hasText: 'hello' }).waitFor(WAIT);
    assert.equal(await dev.page.locator('.invite-role').innerText(), 'developer');
    assert.match(await dev.page.locator('form.card').innerText(), /admin invites you/);
    await shot(dev, 'invite');
    await dev.page.getByLabel('Your name').fill('dana');
    await dev.page.getByRole('button', { name: 'Join with a passkey' }).click();
    devCodes = await readCodes(dev);
    await dev.page.getByText('No releases yet.').waitFor(WAIT);
    assert.equal(new URL(dev.page.url()).pathname, '/projects/hello');
    assert.equal((await credentials(dev)).length, 1);
    assert.equal((await credentials(admin)).length, 1, "the admin's authenticator got nothing");
    // The link worked once.
    assert.equal((await fetch(`${base}/api/v1/invites/${inviteLink.split('/invite/')[1]}`)).status, 404);
    await admin.page.reload();
    await admin.page.locator('tr[data-member="dana"]', { hasText: 'developer' }).waitFor(WAIT);
  });

  test('sign-out ends access; the passkey signs the person in again', async () => {
    const cookie = (await dev.context.cookies(`${base}/api/v1/`))[0]!;
    await signOut(dev);
    assert.equal(await status(dev, '/api/v1/projects/hello'), 401);
    // The old cookie value, replayed, is dead on the server too (not merely cleared in the browser).
    const replay = await fetch(`${base}/api/v1/whoami`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    assert.equal(replay.status, 401);
    await dev.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await dev.page.locator('ul.cards a.title', { hasText: 'hello' }).waitFor(WAIT);
    const me = await dev.page.evaluate(async () => (await (await fetch('/api/v1/whoami')).json()) as { user: { name: string } });
    assert.equal(me.user.name, 'dana');
  });

  test('a recovery code signs in once; the same code again is refused', async () => {
    await signOut(dev);
    const code = devCodes[3]!;
    const recover = async () => {
      await dev.page.goto(`${base}/recover`);
      await dev.page.getByLabel('Your name').fill('dana');
      await dev.page.getByLabel('Recovery code').fill(code.toUpperCase()); // case and dashes do not matter
      await dev.page.getByRole('button', { name: 'Sign in with recovery code' }).click();
    };
    await recover();
    await dev.page.getByRole('heading', { name: 'Account' }).waitFor(WAIT);
    assert.equal(await dev.page.locator('.codes-left').innerText(), '9');
    await signOut(dev);
    await recover();
    await dev.page.getByRole('alert').filter({ hasText: 'do not match an unused code' }).waitFor(WAIT);
    // Another person's code does not work for dana.
    await dev.page.getByLabel('Recovery code').fill(adminCodes[0]!);
    await dev.page.getByRole('button', { name: 'Sign in with recovery code' }).click();
    await dev.page.getByRole('alert').filter({ hasText: 'do not match an unused code' }).waitFor(WAIT);
    await dev.page.goto(base);
    await dev.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await dev.page.locator('ul.cards a.title', { hasText: 'hello' }).waitFor(WAIT);
  });

  /** `zectre login` (device grant) in a child process, approved on /device in `p`'s browser. */
  async function cliLogin(p: Person, config: string): Promise<void> {
    const login = await startCli(['login', '--api', stack.apiUrl, '--no-browser'], { ZECTRE_CONFIG: config });
    let code = '';
    for (let i = 0; i < 600 && !code; i++) {
      code = /user_code=([A-Z]{4}-[A-Z]{4})/.exec(login.output())?.[1] ?? '';
      if (!code) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(code, `zectre login printed no code:\n${login.output()}`);
    assert.match(login.output(), new RegExp(`enter the code\\s+${code}`));
    // The printed URL names PUBLIC_URL (127.0.0.1); the browser is at localhost, where the passkey lives.
    await p.page.goto(`${base}/device?user_code=${code}`);
    await p.page.locator('.user-code', { hasText: code }).waitFor(WAIT);
    assert.match(await p.page.locator('.device-client').innerText(), /^zectre CLI on /);
    await shot(p, 'device');
    await p.page.getByRole('button', { name: 'Approve', exact: true }).click();
    await p.page.getByRole('status').filter({ hasText: 'Approved' }).waitFor(WAIT);
    const done = await login.done;
    assert.equal(done.code, 0, `zectre login failed:\n${done.stdout}\n${done.stderr}`);
  }

  const devConfig = () => join(dir, 'dev-cli.json');
  test('zectre login prints a code; the developer approves it on /device; the CLI then deploys to the project', async () => {
    await cliLogin(dev, devConfig());
    const who = await runCli(['whoami'], { ZECTRE_CONFIG: devConfig() });
    assert.match(who.stdout + who.stderr, /dana/);
    const deploy = await runCli(['deploy', join(dir, 'hello'), '--project', 'hello'], { ZECTRE_CONFIG: devConfig() });
    assert.equal(deploy.code, 0, `the developer's deploy failed:\n${deploy.stdout}\n${deploy.stderr}`);
    const events = await adminCli('events', 'hello', '--json');
    assert.match(events.stdout, /dana/, 'the audit trail names who deployed');
  });

  test("a viewer's CLI gets 403 on deploy with a message that says which role is needed", async () => {
    await admin.page.goto(`${base}/projects/hello/members`);
    await admin.page.getByLabel('invite role').selectOption('viewer');
    await admin.page.getByRole('button', { name: 'Create invite link' }).click();
    const link = await admin.page.locator('code.invite-link').innerText();
    const viewer = await person();
    try {
      await viewer.page.goto(link);
      await viewer.page.getByLabel('Your name').fill('vic');
      await viewer.page.getByRole('button', { name: 'Join with a passkey' }).click();
      await readCodes(viewer);
      await viewer.page.getByText('No releases yet.').or(viewer.page.locator('h1', { hasText: 'hello' })).first().waitFor(WAIT);
      const config = join(dir, 'viewer-cli.json');
      await cliLogin(viewer, config);
      const deploy = await runCli(['deploy', join(dir, 'hello'), '--project', 'hello'], { ZECTRE_CONFIG: config });
      assert.notEqual(deploy.code, 0);
      assert.match(deploy.stderr, /403|forbidden/i, deploy.stderr);
      assert.match(deploy.stderr, /needs the developer role on project hello; you are viewer/, deploy.stderr);
      const status = await runCli(['status', 'hello'], { ZECTRE_CONFIG: config });
      assert.equal(status.code, 0, `a viewer reads:\n${status.stderr}`);
    } finally {
      await viewer.context.close();
    }
  });

  test('zectre logout revokes: a copy of the saved sign-in no longer works', async () => {
    const stolen = join(dir, 'stolen-cli.json');
    await copyFile(devConfig(), stolen);
    assert.equal((await runCli(['whoami'], { ZECTRE_CONFIG: stolen })).code, 0);
    const out = await runCli(['logout'], { ZECTRE_CONFIG: devConfig() });
    assert.equal(out.code, 0, out.stderr);
    const after = await runCli(['whoami'], { ZECTRE_CONFIG: stolen });
    assert.notEqual(after.code, 0, 'the access token outlived the revoked sign-in');
    // The browser session is separate from the CLI's sign-in: it still works.
    assert.equal(await status(dev, '/api/v1/whoami'), 200);
  });
});

