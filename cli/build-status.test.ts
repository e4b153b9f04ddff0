import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Deployment } from '../protocol/index.js';
import type { Build } from './build-api.js';
import { buildByDeployment, undeployedBuilds } from './build-status.js';
import { BuildView, planLines } from './run/build.js';

const build = (over: Partial<Build>): Build => ({
  id: 'b1', project: 'web', status: 'running', step: null, node: null, sourceDigest: `sha256:${'a'.repeat(64)}`, artifactDigest: null,
  cacheKey: null, cache: null, deploymentId: null, error: null, createdAt: '2026-11-30T10:00:00.000Z', startedAt: null, finishedAt: null, plan: null, ...over,
});
const deployment = (id: string, createdAt: string) => ({ id, createdAt }) as Deployment;

test('running builds and builds that failed since the newest deployment show beside deployments', () => {
  const deployments = [deployment('d2', '2026-11-30T10:00:00.000Z')];
  const builds = [
    build({ id: 'running', status: 'running' }),
    build({ id: 'queued', status: 'queued', createdAt: '2026-11-30T09:00:00.000Z' }),
    build({ id: 'failed-after', status: 'failed', createdAt: '2026-11-30T10:05:00.000Z' }),
    build({ id: 'failed-before', status: 'failed', createdAt: '2026-11-30T09:55:00.000Z' }),
    build({ id: 'deployed', status: 'succeeded', deploymentId: 'd2' }),
    build({ id: 'built-only', status: 'succeeded', createdAt: '2026-11-30T10:06:00.000Z' }),
  ];
  assert.deepEqual(undeployedBuilds(builds, deployments).map((b) => b.id), ['running', 'queued', 'failed-after']);
  assert.deepEqual(undeployedBuilds([build({ id: 'first', status: 'timed_out' })], []).map((b) => b.id), ['first']);
  assert.equal(buildByDeployment(builds).get('d2')?.id, 'deployed');
});

test('the plan prints each step, and each change of a build is said once', () => {
  const plan = { packageManager: 'npm', nodeVersion: '20.18.0', install: 'npm ci', build: null, prune: 'npm prune --omit=dev', start: 'npm start' } as const;
  assert.deepEqual(planLines(plan), [
    'build plan (npm, Node.js 20.18.0):',
    '  install  npm ci',
    '  build    - (no build script)',
    '  prune    npm prune --omit=dev',
    '  start    npm start',
  ]);
  const said: string[] = [];
  const view = new BuildView((line) => said.push(line));
  view.show(build({ status: 'queued' }));
  view.show(build({ status: 'queued' }));
  view.show(build({ node: 'builder-1', step: 'install', plan, cache: 'hit', cacheKey: 'k1' }));
  view.show(build({ node: 'builder-1', step: 'build', plan, cache: 'hit', cacheKey: 'k1' }));
  assert.deepEqual(said, [
    `build b1 queued (source sha256:aaaaaaaaaaaa…)`,
    'building on builder-1',
    ...planLines(plan),
    'cache: hit (key k1): packages come from the cache',
    'step: install',
    'step: build',
  ]);
});
