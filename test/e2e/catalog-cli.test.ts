/**
 * `zectre login` with the device grant (issue 12 point 5), as users run it: the built CLI in a child
 * process prints a code, the test approves it through the API as a person would in the dashboard,
 * then the CLI works, refreshes its access token by itself (before expiry, and once after a 401
 * token_expired), and `zectre logout` revokes the sign-in. Real Worker in workerd, real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { hashToken } from '../../protocol/index.js';
import { waitFor } from '../../dev/processes.js';
import { runCli, startCli } from '../../cli/run-cli.test-helper.js';
import { currentSigningKey, refresh, startCatalogStack, type CatalogStack } from './catalog-support.js';
import { createUser, expectStatus, jwtClaims } from './trust-support.js';

const CODE = /\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b/;

describe('zectre login (device grant) and logout', { timeout: 300_000 }, () => {
  let stack: CatalogStack;
  let scratch: string;
  let dana: { id: string; token: string };
  let env: Record<string, string>;
  const configFile = () => env.ZECTRE_CONFIG!;
  const readSaved = async () => JSON.parse(await readFile(configFile(), 'utf8'));

  before(async () => {
    stack = await startCatalogStack('catalogcli');
    scratch = await mkdtemp(join(tmpdir(), 'zectre-login-'));
    env = { ZECTRE_CONFIG: join(scratch, 'zectre', 'config.json') };
    await expectStatus(201, stack.url, 'POST', '/api/v1/projects', { token: stack.adminToken, body: { name: 'alpha' } });
    dana = await createUser(stack.pool, 'dana', { alpha: 'developer' });
  });
  after(async () => {
    await stack?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const expectStatusOf = async (token: string) =>
    (await fetch(`${stack.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })).status;

  /** Starts `zectre login`, waits for the code it prints, and lets `decide` act on it. */
  async function login(decide: (userCode: string) => Promise<unknown>) {
    const cli = await startCli(['login', '--api', stack.url, '--no-browser'], env);
    const userCode = await waitFor('zectre login to print a code', async () => CODE.exec(cli.output())?.[1], 60_000);
    assert.ok(cli.output().includes(`${stack.url}/device?user_code=${userCode}`), cli.output());
    await decide(userCode);
    return { run: await cli.done, userCode };
  }

  test('denied in the dashboard: the CLI says so (exit 3) and saves nothing', async () => {
    const { run } = await login((userCode) =>
      expectStatus(200, stack.url, 'POST', '/api/v1/device/deny', { token: dana.token, body: { userCode } }));
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^error: the sign-in with code .* was denied in the dashboard/m);
    await assert.rejects(stat(configFile()), { code: 'ENOENT' });
  });

  test('approved: projects list works, tokens refresh by themselves, logout revokes', async () => {
    const { run } = await login((userCode) =>
      expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: dana.token, body: { userCode } }));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /To sign in, open .*\/device and enter the code/);
    assert.match(run.stderr, /waiting for the code to be approved/);
    assert.match(run.stdout, new RegExp(`logged in to ${stack.url} as dana`));
    assert.equal((await stat(configFile())).mode & 0o777, 0o600);
    const saved = await readSaved();
    assert.equal(saved.token, undefined);
    assert.match(saved.oauth.refreshToken, /^zr_/);
    assert.equal(saved.oauth.tokenEndpoint, `${stack.url}/oauth/token`);

    const listed = await runCli(['projects', 'list'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^alpha\s/m);

    // The cached access token is about to expire: the CLI refreshes first and saves the rotated refresh token.
    await writeFile(configFile(), JSON.stringify({ ...saved, oauth: { ...saved.oauth, accessTokenExpiresAt: Date.now() } }));
    assert.equal((await runCli(['projects', 'list'], env)).code, 0);
    const rotated = await readSaved();
    assert.notEqual(rotated.oauth.refreshToken, saved.oauth.refreshToken);
    assert.notEqual(rotated.oauth.accessToken, saved.oauth.accessToken);
    assert.equal((await stat(configFile())).mode & 0o777, 0o600);
    const spent = await stack.pool.query('SELECT used_at FROM oauth_refresh_tokens WHERE token_hash = $1', [await hashToken(saved.oauth.refreshToken)]);
    assert.ok(spent.rows[0].used_at, 'the previous refresh token is spent');

    // The API says the access token expired (the CLI thought it fresh): one refresh, then the request again.
    const { kid, key } = await currentSigningKey(stack);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ sid: jwtClaims(rotated.oauth.accessToken).sid, roles: { admin: false, projects: {} } })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(stack.url).setSubject(dana.id).setAudience('zectre-api').setIssuedAt(now - 1000).setExpirationTime(now - 100).setJti('x')
      .sign(key);
    await writeFile(configFile(), JSON.stringify({ ...rotated, oauth: { ...rotated.oauth, accessToken: expired, accessTokenExpiresAt: Date.now() + 600_000 } }));
    const retried = await runCli(['projects', 'list'], env);
    assert.equal(retried.code, 0, retried.stderr);
    const renewed = await readSaved();
    assert.notEqual(renewed.oauth.accessToken, expired);
    assert.notEqual(renewed.oauth.refreshToken, rotated.oauth.refreshToken);

    // Key rotation by an admin (one command), and this sign-in goes on working without a restart.
    const adminEnv = { ZECTRE_CONFIG: join(scratch, 'admin.json'), ZECTRE_API_URL: stack.url, ZECTRE_TOKEN: stack.adminToken };
    const rotation = await runCli(['admin', 'rotate-keys'], adminEnv);
    assert.equal(rotation.code, 0, rotation.stderr);
    assert.match(rotation.stdout, /^signing with key ck-\S+; published ck-\S+ as the next key/);
    const notAdmin = await runCli(['admin', 'rotate-keys'], env);
    assert.equal(notAdmin.code, 3);
    assert.match(notAdmin.stderr, /needs an admin/);
    assert.equal((await runCli(['projects', 'list'], env)).code, 0);

    const out = await runCli(['logout'], env);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /logged out of .* and ended the sign-in; removed /);
    await assert.rejects(stat(configFile()), { code: 'ENOENT' });
    assert.equal((await refresh(stack.url, renewed.oauth.refreshToken)).body.error, 'invalid_grant', 'revoked at the catalog, not only forgotten');
    const after = await runCli(['projects', 'list'], env);
    assert.equal(after.code, 3);
    assert.match(after.stderr, /^error: not logged in .*zectre login --api URL/);
  });

  test('a sign-in revoked elsewhere: the next command says to sign in again (exit 3)', async () => {
    const { run } = await login((userCode) =>
      expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: dana.token, body: { userCode } }));
    assert.equal(run.code, 0, run.stderr);
    const saved = await readSaved();
    // Someone else holds a copy of the refresh token and uses it first.
    const thief = await refresh(stack.url, saved.oauth.refreshToken);
    assert.equal(thief.status, 200);
    // The CLI's own refresh presents the spent token: the catalog revokes the whole sign-in.
    await writeFile(configFile(), JSON.stringify({ ...saved, oauth: { ...saved.oauth, accessTokenExpiresAt: Date.now() } }));
    const refreshed = await runCli(['projects', 'list'], env);
    assert.equal(refreshed.code, 3);
    assert.match(refreshed.stderr, /^error: your sign-in to .* has ended \(this refresh token was already used.*run `zectre login --api/);
    assert.equal((await expectStatusOf(thief.body.access_token)), 401, "the thief's access token stops working too");
    // An access token of the revoked sign-in that has not expired yet: refused as revoked.
    await writeFile(configFile(), JSON.stringify({ ...saved, oauth: { ...saved.oauth, accessTokenExpiresAt: Date.now() + 600_000 } }));
    const listed = await runCli(['projects', 'list'], env);
    assert.equal(listed.code, 3);
    assert.match(listed.stderr, /sign-in was revoked.*zectre login.*\(token_revoked\)/);
  });
});
