/** Helpers for the catalog suites: the Worker on its own database, and the OAuth calls a client makes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, type JWK } from 'jose';
import { CLI_CLIENT_ID, DEVICE_CODE_GRANT, type DeviceAuthorization } from '../../protocol/index.js';
import { decrypt } from '../../protocol/crypto.js';
import { createAdminToken } from '../../dev/bootstrap.js';
import { buildAssets } from '../../dev/build.js';
import { openDatabase, type LocalDatabase } from '../../dev/database.js';
import { freePort } from '../../dev/ports.js';
import { loadOrCreateSecrets, type StackSecrets } from '../../dev/secrets.js';
import { startWorker } from '../../dev/worker.js';
import { createPool } from '../../sql/connect.js';
import { testDatabase } from '../support/database.js';
import { call, expectStatus } from './trust-support.js';

export interface CatalogStack {
  url: string;
  adminToken: string;
  secrets: StackSecrets;
  pool: ReturnType<typeof createPool>;
  db: LocalDatabase;
  stop(): Promise<void>;
}

/** The edge Worker in workerd (wrangler dev) on a throwaway database: no agent, the catalog needs none. */
export async function startCatalogStack(suite: string): Promise<CatalogStack> {
  const dir = await mkdtemp(join(tmpdir(), `zectre-${suite}-`));
  const db = await openDatabase(testDatabase(suite));
  const adminToken = await createAdminToken(db.options);
  await buildAssets();
  const secrets = await loadOrCreateSecrets(join(dir, 'secrets.json'));
  const worker = await startWorker({
    port: await freePort(),
    stateDir: dir,
    echo: process.env.ZECTRE_TEST_ECHO === '1',
    vars: { ...secrets, DATABASE_URL: db.options.databaseUrl, DB_WS_PROXY: db.options.wsProxy!, APPS_DOMAIN: 'zectre.localhost' },
  });
  const pool = createPool(db.options, 2);
  return {
    url: worker.url,
    adminToken,
    secrets,
    pool,
    db,
    async stop() {
      await pool.end();
      await worker.stop();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface FormAnswer {
  status: number;
  headers: Headers;
  body: any;
}

/** A form-encoded POST, as an OAuth client sends it. */
export async function postForm(base: string, path: string, params: Record<string, string>): Promise<FormAnswer> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

export function startDevice(base: string, clientName = 'zectre CLI on test-host'): Promise<FormAnswer & { body: DeviceAuthorization }> {
  return postForm(base, '/oauth/device_authorization', { client_id: CLI_CLIENT_ID, client_name: clientName });
}

export function pollDevice(base: string, deviceCode: string): Promise<FormAnswer> {
  return postForm(base, '/oauth/token', { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: CLI_CLIENT_ID });
}

export function refresh(base: string, refreshToken: string): Promise<FormAnswer> {
  return postForm(base, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLI_CLIENT_ID });
}

/** The interval is the device's to honour; the suite lets its next poll through at once instead of waiting 5 s. */
export async function allowNextPoll(stack: CatalogStack, userCode: string): Promise<void> {
  await stack.pool.query(`UPDATE oauth_device_codes SET last_polled_at = NULL WHERE user_code = $1`, [userCode]);
}

/** A full device sign-in of the user whose API token is given: {access_token, refresh_token, …}. */
export async function signIn(stack: CatalogStack, userToken: string): Promise<{ access_token: string; refresh_token: string }> {
  const device = await startDevice(stack.url);
  await expectStatus(200, stack.url, 'POST', '/api/v1/device/approve', { token: userToken, body: { userCode: device.body.user_code } });
  await allowNextPoll(stack, device.body.user_code);
  const answer = await pollDevice(stack.url, device.body.device_code);
  if (answer.status !== 200) throw new Error(`token grant answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function whoamiStatus(base: string, token: string): Promise<{ status: number; code?: string; name?: string }> {
  const got = await call(base, 'GET', '/api/v1/whoami', { token });
  return { status: got.status, code: got.body?.error?.code, name: got.body?.user?.name };
}

/** The catalog's current private signing key, read as only the Worker could (the test holds ENV_ENCRYPTION_KEY). */
export async function currentSigningKey(stack: CatalogStack): Promise<{ kid: string; key: CryptoKey | Uint8Array }> {
  const { rows } = await stack.pool.query(`SELECT kid, private_jwk_enc FROM catalog_keys WHERE state = 'current'`);
  const jwk = JSON.parse(await decrypt(stack.secrets.ENV_ENCRYPTION_KEY, rows[0].private_jwk_enc)) as JWK;
  return { kid: rows[0].kid, key: await importJWK(jwk, 'ES256') };
}
