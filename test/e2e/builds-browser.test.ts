/**
 * The dashboard's builds view in a real browser (Debian chromium via playwright-core) against the
 * whole local stack with a builder-labelled agent (issue 13, point 7): a build started through the
 * API shows up on the project page, its log lines appear while it runs (the build waits on a gate
 * file the test opens only after the browser showed its first line), then its final status and the
 * release it made, all without a reload; a running build is canceled from the page; a failing
 * build shows its error. Needs no registry: the apps have no dependencies.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { openPage } from './browser.js';
import { packDir } from '../../cli/pack.js';
import { ROOT } from '../../dev/root.js';
import { startStack, type Stack } from '../../dev/stack.js';
import type { Build } from '../../protocol/index.js';
import { testDatabase } from '../support/database.js';
import { apiClient, taskPortRange } from './agent-support.js';

const SHOTS = join(ROOT, 'dist/screenshots');
const WAIT = { timeout: 120_000 };
/** Outside the test's private temp dir: the build runs as its own uid and must be able to see it. */
const GATE = join(tmpdir(), `zectre-builds-browser-gate-${randomBytes(6).toString('hex')}`);

/** No package.json: nothing to install; the build is `node build.js` from the request's config. */
const app = (buildScript: string): Record<string, string> => ({
  'zectre.json': JSON.stringify({ start: 'node server.js' }),
  'build.js': buildScript,
  'server.js': `require('node:http').createServer((q, s) => s.end('built')).listen(Number(process.env.PORT), '127.0.0.1');\n`,
});

describe('builds view in chromium', { timeout: 600_000 }, () => {
  let stack: Stack;
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  let api: ReturnType<typeof apiClient>;

  const startBuild = async (buildScript: string, deploy = true): Promise<Build> => {
    const src = await mkdtemp(join(dir, 'src-'));
    for (const [path, content] of Object.entries(app(buildScript))) await writeFile(join(src, path), content);
    const packed = await packDir(src, { source: true });
    const { digest } = await api.call<{ digest: string }>('PUT', '/api/v1/projects/web/artifacts', undefined, packed.data);
    return (await api.call<{ build: Build }>('POST', '/api/v1/projects/web/builds', { sourceDigest: digest, deploy, config: { command: 'node build.js' } })).build;
  };
  const logLine = (id: string, text: string, stream = 'stdout') => page.locator(`[data-build-log="${id}"] .line.${stream}`, { hasText: text });
  const detail = (id: string, status: string) => page.locator(`[data-build-detail="${id}"][data-status="${status}"]`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zectre-builds-browser-'));
    stack = await startStack({
      dir: join(dir, 'state'),
      db: testDatabase('builds_browser'),
      heartbeatIntervalMs: 1000,
      echo: process.env.ZECTRE_TEST_ECHO === '1',
      agentEnv: { ZECTRE_AGENT_LABELS: 'builder', ZECTRE_AGENT_PORT_RANGE: taskPortRange(100), ZECTRE_AGENT_BUILD_POLL_MS: '250' },
    });
    api = apiClient(stack.apiUrl, stack.adminToken);
    await api.call('POST', '/api/v1/projects', { name: 'web' });
    ({ context, page } = await openPage(join(dir, 'chromium')));
    await page.goto(stack.apiUrl);
    await page.getByLabel('API token').fill(stack.adminToken);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('ul.cards a.title', { hasText: 'web' }).click();
    await page.getByText('No builds yet.').waitFor(WAIT);
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  });
  after(async () => {
    await context?.close();
    await stack?.stop();
    await rm(GATE, { force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a build streams its log live, then shows succeeded and its release, without a reload', async () => {
    const build = await startBuild(`
const fs = require('node:fs');
console.log('builddash: compiling');
const gate = setInterval(() => {
  if (!fs.existsSync(${JSON.stringify(GATE)})) return;
  clearInterval(gate);
  console.log('builddash: gate opened, done');
}, 100);
`);
    await page.locator(`tr[data-build="${build.id}"]`).waitFor(WAIT);
    // The first line is on the page while the build still waits for the gate: it streamed.
    await logLine(build.id, 'builddash: compiling').waitFor(WAIT);
    await detail(build.id, 'running').waitFor(WAIT);
    assert.equal(await logLine(build.id, 'gate opened').count(), 0);
    await writeFile(GATE, 'open', { mode: 0o644 });
    await logLine(build.id, 'builddash: gate opened, done').waitFor(WAIT);
    await detail(build.id, 'succeeded').waitFor(WAIT);
    await page.locator(`[data-build-log="${build.id}"][data-done="true"]`).waitFor(WAIT);
    const { build: ended } = await api.call<{ build: Build }>('GET', `/api/v1/builds/${build.id}`);
    assert.ok(ended.deploymentId, 'a succeeded build with deploy makes a release');
    await page.locator(`tr[data-build="${build.id}"]`, { hasText: ended.deploymentId }).waitFor(WAIT);
    const row = await page.locator(`tr[data-build="${build.id}"]`).innerText();
    assert.match(row, new RegExp(build.sourceDigest.slice(7, 19)));
    assert.ok(ended.node && row.includes(ended.node), `the row names the builder node ${ended.node}: ${row}`);
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page reloaded');
  });

  test('a running build is canceled from the page', async () => {
    const build = await startBuild(`console.log('builddash: long build'); setTimeout(() => {}, 600000);`, false);
    await logLine(build.id, 'builddash: long build').waitFor(WAIT);
    await detail(build.id, 'running').waitFor(WAIT);
    await page.getByRole('button', { name: 'Cancel build' }).click();
    await detail(build.id, 'canceled').waitFor(WAIT);
    await page.locator(`[data-build-log="${build.id}"][data-done="true"]`).waitFor(WAIT);
    assert.equal(await page.getByRole('button', { name: 'Cancel build' }).count(), 0, 'an ended build offers no cancel');
  });

  test('a failing build shows its error', async () => {
    const build = await startBuild(`console.error('builddash: cannot find module ./missing'); process.exit(3);`, false);
    await detail(build.id, 'failed').waitFor(WAIT);
    const error = page.locator(`[data-build-detail="${build.id}"] .build-error`);
    await error.waitFor(WAIT);
    assert.match(await error.innerText(), /step build failed: `node build\.js` exited with code 3[^]*builddash: cannot find module/, 'the error names the failing step and its last lines');
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'builds.png'), fullPage: true });
    await logLine(build.id, 'builddash: cannot find module ./missing', 'stderr').waitFor(WAIT);
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page reloaded');
  });
});
