import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { configPath, readConfig, resolveConfig, writeConfig } from './config.js';

const scratch = await mkdtemp(join(tmpdir(), 'zectre-config-'));
after(() => rm(scratch, { recursive: true, force: true }));

test('writeConfig creates a 0700 directory and a 0600 file that readConfig reads back', async () => {
  const path = join(scratch, 'nested', 'zectre', 'config.json');
  const config = { apiUrl: 'http://127.0.0.1:8787', token: 'zt_secret' };
  await writeConfig(path, config);
  assert.deepEqual(await readConfig(path), config);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(scratch, 'nested', 'zectre'))).mode & 0o777, 0o700);

  // Overwriting keeps the mode tight even if someone loosened it.
  await writeFile(path, '{}', { mode: 0o644 });
  await writeConfig(path, { ...config, token: 'zt_new' });
  assert.equal((await readConfig(path))?.token, 'zt_new');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('readConfig: missing is null, garbage is an error', async () => {
  assert.equal(await readConfig(join(scratch, 'absent.json')), null);
  const bad = join(scratch, 'bad.json');
  await writeFile(bad, 'not json');
  await assert.rejects(readConfig(bad), /not valid JSON/);
});

test('ZECTRE_CONFIG picks the file; ZECTRE_API_URL and ZECTRE_TOKEN override it', async () => {
  const path = join(scratch, 'env', 'config.json');
  await writeConfig(path, { apiUrl: 'http://saved.example', token: 'saved' });
  assert.equal(configPath({ ZECTRE_CONFIG: path }), path);
  assert.deepEqual(await resolveConfig({ ZECTRE_CONFIG: path }), { apiUrl: 'http://saved.example', token: 'saved' });
  assert.deepEqual(await resolveConfig({ ZECTRE_CONFIG: path, ZECTRE_API_URL: 'http://env.example' }), {
    apiUrl: 'http://env.example',
    token: 'saved',
  });
  assert.deepEqual(await resolveConfig({ ZECTRE_CONFIG: path, ZECTRE_TOKEN: 'env' }), {
    apiUrl: 'http://saved.example',
    token: 'env',
  });
  await assert.rejects(resolveConfig({ ZECTRE_CONFIG: join(scratch, 'absent.json') }), /not logged in/);
});

test('a device sign-in is saved and read back; ZECTRE_TOKEN still wins over it', async () => {
  const path = join(scratch, 'oauth', 'config.json');
  const oauth = {
    tokenEndpoint: 'http://saved.example/oauth/token',
    revocationEndpoint: 'http://saved.example/oauth/revoke',
    refreshToken: 'zr_secret',
    accessToken: 'a.b.c',
    accessTokenExpiresAt: 1_800_000_000_000,
  };
  await writeConfig(path, { apiUrl: 'http://saved.example', oauth });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readConfig(path), { apiUrl: 'http://saved.example', oauth });
  assert.deepEqual(await resolveConfig({ ZECTRE_CONFIG: path }), { apiUrl: 'http://saved.example', oauth });
  assert.deepEqual(await resolveConfig({ ZECTRE_CONFIG: path, ZECTRE_TOKEN: 'env' }), { apiUrl: 'http://saved.example', token: 'env' });
  await writeFile(path, JSON.stringify({ apiUrl: 'http://saved.example', oauth: { ...oauth, tokenEndpoint: 'not a url' } }));
  await assert.rejects(readConfig(path), /run `zectre login` again/);
});
