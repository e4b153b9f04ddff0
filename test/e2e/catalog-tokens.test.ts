/**
 * The catalog (issue 12 points 1, 2, 5): the device grant's answers, approval through the API,
 * access tokens the API accepts, refresh rotation and reuse detection, revocation, refused JWTs and
 * key rotation without a restart. A real Worker in workerd on a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { CLI_CLIENT_ID, DEVICE_CODE_GRANT, USER_CODE_ALPHABET } from '../../protocol/index.js';
import {
  allowNextPoll, currentSigningKey, pollDevice, postForm, refresh, signIn, startCatalogStack, startDevice, whoamiStatus, type CatalogStack,
} from './catalog-support.js';
import { call, createUser, expectStatus, jwtClaims } from './trust-support.js';

describe('catalog: device grant, tokens, rotation', { timeout: 300_000 }, () => {
  let stack: CatalogStack;
  let dana: { id: string; token: string };

  before(async () => {
    stack = await startCatalogStack('catalog');
    await expectStatus(201, stack.url, 'POST', '/api/v1/projects', { token: stack.adminToken, body: { name: 'alpha' } });
    dana = await createUser(stack.pool, 'dana', { alpha: 'developer' });
  });
  after(async () => {
    await stack?.stop();
  });

  test('discovery names every endpoint under the issuer', async () => {
    const doc = await expectStatus(200, stack.url, 'GET', '/.well-known/openid-configuration');
    assert.equal(doc.issuer, stack.url);
    assert.equal(doc.jwks_uri, `${stack.url}/.well-known/jwks.json`);
    assert.equal(doc.device_authorization_endpoint, `${stack.url}/oauth/device_authorization`);
    assert.equal(doc.token_endpoint, `${stack.url}/oauth/token`);
    assert.equal(doc.revocation_endpoint, `${stack.url}/oauth/revoke`);
    assert.deepEqual(doc.grant_types_supported, [DEVICE_CODE_GRANT, 'refresh_token']);
    assert.deepEqual(doc.access_token_signing_alg_values_supported, ['ES256']);
    const jwks = await expectStatus(200, stack.url, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.keys.length, 2, 'the current and the next key');
  });

  test('device flow: authorization_pending, slow_down, approval, then tokens the API accepts', async () => {
    const device = await startDevice(stack.url);
    assert.equal(device.status, 200);
    assert.equal(device.headers.get('cache-control'), 'no-store');
    const { device_code, user_code, verification_uri, verification_uri_complete, expires_in, interval } = device.body;
    assert.match(user_code, new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`));
    assert.equal(verification_uri, `${stack.url}/device`);
    assert.equal(verification_uri_complete, `${stack.url}/device?user_code=${user_code}`);
    assert.equal(expires_in, 600);
    assert.equal(interval, 5);
    assert.match(device_code, /^zd_/);
    const stored = await stack.pool.query('SELECT device_code_hash FROM oauth_device_codes WHERE user_code = $1', [user_code]);
    assert.notEqual(stored.rows[0].device_code_hash, device_code, 'the device code is stored hashed');

    const first = await pollDevice(stack.url, device_code);
    assert.equal(first.status, 400);
    assert.equal(first.body.error, 'authorization_pending');
    assert.equal(typeof first.body.error_description, 'string');
    assert.equal(first.headers.get('cache-control'), 'no-store');
    // At once again: faster than the interval.
    const second = await pollDevice(stack.url, device_code);
    assert.equal(second.body.error, 'slow_down');
    const row = await stack.pool.query('SELECT interval_s FROM oauth_device_codes WHERE user_code = $1', [user_code]);
    assert.equal(row.rows[0].interval_s, 10, 'slow_down adds 5 s to the interval');

    // The dashboard's view, by the person who will approve (typed in lower case, without the dash).
    const view = await expectStatus(200, stack.url, 'GET', `/api/v1/device?user_code=${user_code.toLowerCase().replace('-', '')}`, { token: dana.token });
    assert.equal(view.userCode, user_code);
    assert.equal(view.clientName, 'zectre CLI on test-host');
    assert.equal(view.status, 'pending');
    assert.ok(Date.parse(view.expiresAt) > Date.parse(view.requestedAt));
    assert.deepEqual(
      await expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: dana.token, body: { userCode: user_code } }),
      { approved: true },
    );
    assert.equal((await expectStatus(200, stack.url, 'GET', `/api/v1/device?user_code=${user_code}`, { token: dana.token })).status, 'approved');

    await allowNextPoll(stack, user_code);
    const granted = await pollDevice(stack.url, device_code);
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    assert.equal(granted.headers.get('cache-control'), 'no-store');
    assert.equal(granted.body.token_type, 'Bearer');
    assert.equal(granted.body.expires_in, 900);
    assert.match(granted.body.refresh_token, /^zr_/);
    const header = decodeProtectedHeader(granted.body.access_token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'at+jwt');
    const claims = jwtClaims(granted.body.access_token);
    assert.equal(claims.iss, stack.url);
    assert.equal(claims.aud, 'zectre-api');
    assert.equal(claims.sub, dana.id);
    assert.equal(claims.exp - claims.iat, 900);
    assert.equal(typeof claims.jti, 'string');
    assert.deepEqual(claims.roles, { admin: false, projects: { alpha: 'developer' } });
    const family = await stack.pool.query('SELECT user_id FROM oauth_refresh_families WHERE id = $1', [claims.sid]);
    assert.equal(family.rows[0]?.user_id, dana.id, 'sid names the refresh family');

    assert.deepEqual(await whoamiStatus(stack.url, granted.body.access_token), { status: 200, code: undefined, name: 'dana' });
    const projects = await expectStatus(200, stack.url, 'GET', '/api/v1/projects', { token: granted.body.access_token });
    assert.deepEqual(projects.projects.map((p: { name: string }) => p.name), ['alpha']);

    // The code is spent.
    await allowNextPoll(stack, user_code);
    assert.equal((await pollDevice(stack.url, device_code)).body.error, 'invalid_grant');
  });

  test('device flow: expired_token and access_denied', async () => {
    const late = await startDevice(stack.url);
    await stack.pool.query(`UPDATE oauth_device_codes SET expires_at = now() - interval '1 second' WHERE user_code = $1`, [late.body.user_code]);
    assert.equal((await pollDevice(stack.url, late.body.device_code)).body.error, 'expired_token');
    const tooLate = await call(stack.url, 'POST', '/api/v1/device/approve', { token: dana.token, body: { userCode: late.body.user_code } });
    assert.equal(tooLate.status, 409);
    assert.equal(tooLate.body.error.code, 'device_code_expired');
    assert.equal((await expectStatus(200, stack.url, 'GET', `/api/v1/device?user_code=${late.body.user_code}`, { token: dana.token })).status, 'expired');

    const denied = await startDevice(stack.url);
    assert.deepEqual(await expectStatus(200, stack.url, 'POST', '/api/v1/device/deny', { token: dana.token, body: { userCode: denied.body.user_code } }), { denied: true });
    assert.equal((await pollDevice(stack.url, denied.body.device_code)).body.error, 'access_denied');
    const changed = await call(stack.url, 'POST', '/api/v1/device/approve', { token: dana.token, body: { userCode: denied.body.user_code } });
    assert.equal(changed.status, 409, 'a denied code cannot be approved after');
  });

  test('bad OAuth requests get RFC 6749 errors, never a 500', async () => {
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['/oauth/token', { grant_type: DEVICE_CODE_GRANT, device_code: 'zd_nobody', client_id: CLI_CLIENT_ID }, 400, 'invalid_grant'],
      ['/oauth/token', { grant_type: 'password', username: 'a', password: 'b' }, 400, 'unsupported_grant_type'],
      ['/oauth/token', { grant_type: DEVICE_CODE_GRANT, device_code: 'x', client_id: 'someone-else' }, 401, 'invalid_client'],
      ['/oauth/token', { grant_type: 'refresh_token', refresh_token: 'zr_nobody' }, 400, 'invalid_grant'],
      ['/oauth/token', {}, 400, 'invalid_request'],
      ['/oauth/device_authorization', {}, 400, 'invalid_request'],
      ['/oauth/device_authorization', { client_id: CLI_CLIENT_ID, client_name: 'evil\u202ename' }, 400, 'invalid_request'],
      ['/oauth/revoke', {}, 400, 'invalid_request'],
    ];
    for (const [path, params, status, error] of cases) {
      const got = await postForm(stack.url, path, params);
      assert.equal(got.status, status, `${path} ${JSON.stringify(params)}: ${JSON.stringify(got.body)}`);
      assert.equal(got.body.error, error);
      assert.equal(typeof got.body.error_description, 'string');
      assert.equal(got.headers.get('cache-control'), 'no-store');
    }
    const json = await call(stack.url, 'POST', '/oauth/token', { body: { grant_type: 'refresh_token' } });
    assert.equal(json.status, 400);
    assert.equal(json.body.error, 'invalid_request', 'parameters must be form-encoded');
  });

  test('refresh rotates on every use; a reused refresh token revokes the whole family', async () => {
    const first = await signIn(stack, dana.token);
    const second = await refresh(stack.url, first.refresh_token);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.notEqual(second.body.refresh_token, first.refresh_token, 'a new refresh token each time');
    assert.equal(jwtClaims(second.body.access_token).sid, jwtClaims(first.access_token).sid, 'same family');
    assert.equal((await whoamiStatus(stack.url, second.body.access_token)).status, 200);

    // The first refresh token again: someone else holds a copy.
    const reused = await refresh(stack.url, first.refresh_token);
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error, 'invalid_grant');
    const newest = await refresh(stack.url, second.body.refresh_token);
    assert.equal(newest.body.error, 'invalid_grant', 'the newest refresh token of the family is revoked too');
    assert.deepEqual(await whoamiStatus(stack.url, second.body.access_token), { status: 401, code: 'token_revoked', name: undefined });
    assert.equal((await whoamiStatus(stack.url, first.access_token)).code, 'token_revoked');

    // Another sign-in of the same user is untouched.
    const other = await signIn(stack, dana.token);
    assert.equal((await whoamiStatus(stack.url, other.access_token)).status, 200);
  });

  test('revoke (RFC 7009): by refresh token or access token, unknown tokens answer 200', async () => {
    const byRefresh = await signIn(stack, dana.token);
    const answer = await postForm(stack.url, '/oauth/revoke', { token: byRefresh.refresh_token, token_type_hint: 'refresh_token', client_id: CLI_CLIENT_ID });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal((await whoamiStatus(stack.url, byRefresh.access_token)).code, 'token_revoked');
    assert.equal((await refresh(stack.url, byRefresh.refresh_token)).body.error, 'invalid_grant');

    const byAccess = await signIn(stack, dana.token);
    assert.equal((await postForm(stack.url, '/oauth/revoke', { token: byAccess.access_token })).status, 200);
    assert.equal((await refresh(stack.url, byAccess.refresh_token)).body.error, 'invalid_grant');

    assert.equal((await postForm(stack.url, '/oauth/revoke', { token: 'zr_never-issued' })).status, 200);
    assert.equal((await postForm(stack.url, '/oauth/revoke', { token: byRefresh.refresh_token })).status, 200, 'twice is fine');
  });

  test('a disabled user can neither get nor refresh tokens, and its access tokens stop working', async () => {
    const erin = await createUser(stack.pool, 'erin');
    const tokens = await signIn(stack, erin.token);
    const pending = await startDevice(stack.url);
    await expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: erin.token, body: { userCode: pending.body.user_code } });
    await stack.pool.query('UPDATE users SET disabled_at = now() WHERE id = $1', [erin.id]);
    assert.equal((await refresh(stack.url, tokens.refresh_token)).body.error, 'invalid_grant');
    await allowNextPoll(stack, pending.body.user_code);
    assert.equal((await pollDevice(stack.url, pending.body.device_code)).body.error, 'invalid_grant');
    assert.deepEqual(await whoamiStatus(stack.url, tokens.access_token), { status: 403, code: 'user_disabled', name: undefined });
    await stack.pool.query('UPDATE users SET disabled_at = NULL WHERE id = $1', [erin.id]);
    assert.equal((await refresh(stack.url, tokens.refresh_token)).status, 200, 'a refusal does not spend the refresh token');
  });

  test('refused JWTs: expired, wrong audience, wrong issuer, alg none, foreign key, wrong typ, no sid', async () => {
    const { access_token } = await signIn(stack, dana.token);
    const { sid } = jwtClaims(access_token);
    const { kid, key } = await currentSigningKey(stack);
    const now = Math.floor(Date.now() / 1000);
    const make = (o: { aud?: string; iss?: string; exp?: number; typ?: string; claims?: Record<string, unknown>; kid?: string; key?: CryptoKey | Uint8Array } = {}) =>
      new SignJWT({ sid, roles: { admin: false, projects: {} }, ...o.claims })
        .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? kid, typ: o.typ ?? 'at+jwt' })
        .setIssuer(o.iss ?? stack.url)
        .setSubject(dana.id)
        .setAudience(o.aud ?? 'zectre-api')
        .setIssuedAt(now - 60)
        .setExpirationTime(o.exp ?? now + 600)
        .setJti(crypto.randomUUID())
        .sign(o.key ?? key);
    // The test signs like the catalog does: this one is accepted, so each refusal below is for its one difference.
    assert.equal((await whoamiStatus(stack.url, await make())).status, 200);

    const foreign = await generateKeyPair('ES256');
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...jwtClaims(access_token), exp: now + 600 })}.`;
    const refused: Array<[string, string, string]> = [
      ['expired', await make({ exp: now - 30 }), 'token_expired'],
      ['wrong audience', await make({ aud: 'another-service' }), 'invalid_token'],
      ['wrong issuer', await make({ iss: 'https://evil.example' }), 'invalid_token'],
      ['alg none', none, 'invalid_token'],
      ['foreign key, our kid', await make({ key: foreign.privateKey }), 'invalid_token'],
      ['foreign key, its own kid', await make({ key: foreign.privateKey, kid: 'ck-foreign' }), 'invalid_token'],
      ['wrong typ', await make({ typ: 'JWT' }), 'invalid_token'],
      ['identity typ', await make({ typ: 'zectre-id+jwt' }), 'invalid_token'],
      ['no sid', await make({ claims: { sid: undefined } }), 'invalid_token'],
    ];
    for (const [what, jwt, code] of refused) {
      assert.deepEqual(await whoamiStatus(stack.url, jwt), { status: 401, code, name: undefined }, what);
    }
  });

  test('key rotation: old tokens keep working, new ones carry the next key, no restart', async () => {
    const before = await signIn(stack, dana.token);
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const jwksBefore = (await expectStatus(200, stack.url, 'GET', '/.well-known/jwks.json')).keys.map((k: { kid: string }) => k.kid);
    assert.ok(jwksBefore.includes(oldKid));
    const [nextKid] = jwksBefore.filter((k: string) => k !== oldKid);
    assert.equal((await whoamiStatus(stack.url, before.access_token)).status, 200);

    const refusedRotation = await call(stack.url, 'POST', '/api/v1/admin/catalog-keys/rotate', { token: dana.token });
    assert.equal(refusedRotation.status, 403, 'admins only');
    const rotated = await expectStatus(200, stack.url, 'POST', '/api/v1/admin/catalog-keys/rotate', { token: stack.adminToken });
    assert.equal(rotated.current, nextKid, 'the key published as next is the one that signs now');
    const jwksAfter = (await expectStatus(200, stack.url, 'GET', '/.well-known/jwks.json')).keys.map((k: { kid: string }) => k.kid);
    assert.deepEqual(new Set(jwksAfter), new Set([oldKid, nextKid, rotated.next]), 'the retired key stays published');
    const events = await stack.pool.query(`SELECT data FROM events WHERE kind = 'catalog.keys_rotated'`);
    assert.equal(events.rows.length, 1);

    assert.equal((await whoamiStatus(stack.url, before.access_token)).status, 200, 'a token signed with the old key still works');
    const after = await refresh(stack.url, before.refresh_token);
    assert.equal(decodeProtectedHeader(after.body.access_token).kid, nextKid);
    assert.equal((await whoamiStatus(stack.url, after.body.access_token)).status, 200);

    // At once again: the newest key was not in the set the API had cached; an unknown kid re-reads it.
    const again = await expectStatus(200, stack.url, 'POST', '/api/v1/admin/catalog-keys/rotate', { token: stack.adminToken });
    assert.equal(again.current, rotated.next);
    const third = await refresh(stack.url, after.body.refresh_token);
    assert.equal(decodeProtectedHeader(third.body.access_token).kid, rotated.next);
    assert.equal((await whoamiStatus(stack.url, third.body.access_token)).status, 200);
    assert.equal((await whoamiStatus(stack.url, before.access_token)).status, 200, 'two rotations later, still within its 15 minutes');
  });
});
