import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { decideBuild, describeDecision, readBuildConfig } from './build-plan.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zectre-build-plan-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'node app.js' } }));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test('a lockfile without node_modules builds remotely, and says why', async () => {
  for (const lockfile of ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock']) {
    await writeFile(join(dir, lockfile), '');
    const decision = await decideBuild(dir);
    assert.equal(decision.build, true, lockfile);
    assert.equal(decision.lockfile, lockfile);
    assert.equal(describeDecision(decision), `building remotely: ${lockfile} found and no node_modules (use --no-build to upload as-is)`);
    await rm(join(dir, lockfile));
  }
});

test('installed dependencies or no lockfile upload as-is', async () => {
  assert.equal(describeDecision(await decideBuild(dir)), 'deploying as-is: no lockfile (package-lock.json, pnpm-lock.yaml, yarn.lock) (use --build to build remotely anyway)');
  await writeFile(join(dir, 'package-lock.json'), '{}');
  await mkdir(join(dir, 'node_modules'));
  const decision = await decideBuild(dir);
  assert.equal(decision.build, false);
  assert.match(describeDecision(decision), /^deploying as-is: node_modules is installed \(use --build/);
});

test('a node_modules that is a file, not a directory, is not an installed tree', async () => {
  await writeFile(join(dir, 'package-lock.json'), '{}');
  await writeFile(join(dir, 'node_modules'), '');
  assert.equal((await decideBuild(dir)).build, true);
});

test('--build and --no-build win over everything', async () => {
  assert.deepEqual(await decideBuild(dir, true), { build: true, reason: '--build given', lockfile: null, config: null });
  await writeFile(join(dir, 'package-lock.json'), '{}');
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ build: { command: 'make' } }));
  const decision = await decideBuild(dir, false);
  assert.equal(decision.build, false);
  assert.equal(decision.reason, '--no-build given');
  assert.deepEqual(decision.config, { command: 'make' });
});

test('a zectre.json build section builds even with node_modules installed', async () => {
  await mkdir(join(dir, 'node_modules'));
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ command: 'node app.js', build: { command: 'pip install --target . -r requirements.txt', buildVars: ['NPM_TOKEN'], timeoutSeconds: 600, memoryMb: 4096 } }));
  const decision = await decideBuild(dir);
  assert.equal(decision.build, true);
  assert.match(decision.reason, /zectre\.json has a "build" section/);
  assert.deepEqual(decision.config, { command: 'pip install --target . -r requirements.txt', buildVars: ['NPM_TOKEN'], timeoutSeconds: 600, memoryMb: 4096 });
});

test('zectre.json without build, or no zectre.json, has no build config', async () => {
  assert.equal(await readBuildConfig(dir), null);
  await writeFile(join(dir, 'zectre.json'), JSON.stringify({ command: 'node app.js' }));
  assert.equal(await readBuildConfig(dir), null);
});

test('a wrong build section is an error naming the file, the key and what is expected', async () => {
  const rejects = async (build: unknown, expected: RegExp) => {
    await writeFile(join(dir, 'zectre.json'), JSON.stringify({ build }));
    await assert.rejects(readBuildConfig(dir), expected);
  };
  await rejects('npm run build', /zectre\.json: build: expected an object such as \{"command": "npm run build"\}/);
  await rejects(null, /zectre\.json: build: expected an object/);
  await rejects(['npm ci'], /zectre\.json: build: expected an object/);
  await rejects({ commnd: 'make' }, /zectre\.json: build: unknown key "commnd"; the keys are command, install, start, buildVars, timeoutSeconds, memoryMb/);
  await rejects({ command: '' }, /zectre\.json: build\.command: .*>=1 characters/);
  await rejects({ command: 42 }, /zectre\.json: build\.command: .*string/);
  await rejects({ buildVars: ['OK', 'NOT-OK'] }, /zectre\.json: build\.buildVars\.1: env var names are letters, digits and _/);
  await rejects({ timeoutSeconds: 1.5 }, /zectre\.json: build\.timeoutSeconds: .*int/);
  await rejects({ timeoutSeconds: 0 }, /zectre\.json: build\.timeoutSeconds: .*>=1/);
  await rejects({ memoryMb: 32 }, /zectre\.json: build\.memoryMb: .*>=64/);
  await writeFile(join(dir, 'zectre.json'), '{ nope');
  await assert.rejects(decideBuild(dir), /zectre\.json is not valid JSON/);
});
