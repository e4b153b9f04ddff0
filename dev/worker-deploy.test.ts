/**
 * README's production step `npx wrangler deploy` must work on a fresh clone after `npm install`,
 * with nothing built yet (issue 11.1): wrangler.toml's [build] step makes dist/public. Here a copy of
 * the tracked files (no dist/, no .wrangler/) goes through `wrangler deploy --dry-run`, and the
 * bundle it would upload must stay under 1 MiB gzipped (Workers' free-plan limit).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ROOT } from './root.js';

const LIMIT = 1024 * 1024;

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)));
}

test('wrangler deploy --dry-run succeeds on a clean tree and the bundle stays under 1 MiB gzipped', { skip: !existsSync(join(ROOT, '.git')) && 'not a git checkout', timeout: 300_000 }, () => {
  const tree = mkdtempSync(join(tmpdir(), 'zectre-clean-'));
  try {
    for (const f of trackedFiles()) {
      mkdirSync(dirname(join(tree, f)), { recursive: true });
      cpSync(join(ROOT, f), join(tree, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
    const out = join(tree, 'out');
    const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' };
    delete env.ZECTRE_ASSETS_BUILT;
    const run = spawnSync(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out], { cwd: tree, env, encoding: 'utf8' });
    assert.equal(run.status, 0, `wrangler deploy --dry-run failed:\n${run.stdout}\n${run.stderr}`);
    assert.ok(existsSync(join(tree, 'dist/public/index.html')), 'the [build] step did not build the dashboard');
    const gz = gzipSync(readFileSync(join(out, 'index.js'))).length;
    assert.ok(gz < LIMIT, `the Worker bundle is ${(gz / 1024).toFixed(0)} KiB gzipped, over the 1 MiB limit`);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});
