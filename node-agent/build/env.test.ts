import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageManagerEnv } from './runner.js';

test('each package manager gets only its own cache variables, and npm prefers its cache', () => {
  const npm = packageManagerEnv('npm', '/c', '/t');
  assert.equal(npm.npm_config_cache, '/c/npm');
  assert.equal(npm.npm_config_prefer_offline, 'true');
  assert.ok(!Object.keys(npm).some((k) => /store|XDG|YARN/i.test(k)), 'no pnpm or yarn settings for npm');
  assert.ok(!Object.keys(packageManagerEnv('yarn', '/c', '/t')).some((k) => k.startsWith('npm_config_')));
  assert.ok(!Object.keys(packageManagerEnv('pnpm', '/c', '/t')).some((k) => /npm_config_(cache|store)/.test(k)));
  assert.deepEqual(packageManagerEnv('none', '/c', '/t'), {});
});

test('the real npm accepts every variable it is given (no "Unknown env config" warning)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zectre-npm-env-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', scripts: { hi: 'echo hi' } }));
    const env = { PATH: process.env.PATH!, HOME: dir, ...packageManagerEnv('npm', join(dir, 'cache'), dir) };
    const out = execFileSync('sh', ['-c', 'npm run hi 2>&1'], { cwd: dir, env, encoding: 'utf8' });
    assert.match(out, /hi/);
    assert.doesNotMatch(out, /Unknown env config/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
