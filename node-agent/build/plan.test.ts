import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabels } from './labels.js';
import { satisfies } from './node-range.js';
import { detectPlan, PlanError } from './plan.js';

const facts = (files: string[], pkg?: object, extra: { zectreJson?: string; procfile?: string } = {}) => ({
  files: new Set(files), ...(pkg ? { packageJson: JSON.stringify(pkg) } : {}), ...extra,
});

test('the lockfile picks the install command; a build script is run; dev deps are pruned; npm start by default', () => {
  const pkg = { scripts: { build: 'tsc' } };
  assert.deepEqual(detectPlan(facts(['package.json', 'package-lock.json'], pkg), {}, 'v20.1.0'),
    { packageManager: 'npm', nodeVersion: 'v20.1.0', install: 'npm ci', build: 'npm run build', prune: 'npm prune --omit=dev', start: 'npm start' });
  assert.equal(detectPlan(facts(['package.json', 'pnpm-lock.yaml'], pkg), {}, 'v20.1.0').install, 'pnpm install --frozen-lockfile');
  assert.equal(detectPlan(facts(['package.json', 'yarn.lock'], {}), {}, 'v20.1.0').install, 'yarn install --immutable');
  assert.equal(detectPlan(facts(['package.json', 'yarn.lock'], {}), {}, 'v20.1.0').build, null);
});

test('start: build config, then zectre.json, then the Procfile, then npm start; build.command overrides the build step', () => {
  const f = facts(['package.json'], {}, { zectreJson: '{"start":"node a.js"}', procfile: 'web: node b.js\n' });
  assert.equal(detectPlan(f, {}, 'v20.0.0').start, 'node a.js');
  assert.equal(detectPlan(f, { start: 'node c.js' }, 'v20.0.0').start, 'node c.js');
  assert.equal(detectPlan(facts(['Procfile'], undefined, { procfile: 'worker: x\nweb: python app.py\n' }), {}, 'v20.0.0').start, 'python app.py');
  const py = detectPlan(facts(['Procfile'], undefined, { procfile: 'web: python app.py' }), { command: 'pip install --target deps -r requirements.txt' }, 'v20.0.0');
  assert.deepEqual([py.install, py.build, py.prune], [null, 'pip install --target deps -r requirements.txt', null]);
  assert.throws(() => detectPlan(facts([]), {}, 'v20.0.0'), PlanError);
  const own = facts(['package.json'], {}, { zectreJson: '{"build":{"command":"make","start":"./run"}}' });
  assert.deepEqual([detectPlan(own, {}, 'v20.0.0').build, detectPlan(own, {}, 'v20.0.0').start], ['make', './run']);
  assert.equal(detectPlan(own, { command: 'npm run other' }, 'v20.0.0').build, 'npm run other', 'the request wins');
});

test('engines.node is checked against the builder\'s Node, with a clear error', () => {
  assert.throws(() => detectPlan(facts(['package.json'], { engines: { node: '>=22' } }), {}, 'v20.20.2'), /engines.node wants ">=22" but this builder runs Node v20.20.2/);
  for (const [range, ok] of [['>=18', true], ['^20.1', true], ['^21', false], ['~20.20', true], ['~20.19', false], ['20.x', true], ['18 || 20', true],
    ['>=18 <20', false], ['>= 18', true], ['*', true], ['18 - 20', true], ['<=19', false], ['20', true], ['>20', false]] as const) {
    assert.equal(satisfies('v20.20.2', range), ok, range);
  }
});

test('labels from ZECTRE_AGENT_LABELS', () => {
  assert.deepEqual(parseLabels('builder, gpu=1'), { builder: 'true', gpu: '1' });
  assert.deepEqual(parseLabels(''), {});
  assert.throws(() => parseLabels('a b'));
});
