/**
 * `npm start`: the whole platform on this machine, then examples/hello deployed through it (unless
 * it is live already, from an earlier start), then a banner once every deployed app answers.
 * DATABASE_URL selects a PostgreSQL; without it an embedded PGlite keeps its data in .zectre/.
 * Ctrl-C stops every process this started.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { configPath, writeConfig } from '../cli/config.js';
import { ApiClient } from '../cli/api-client.js';
import { setupPath } from '../protocol/index.js';
import { createSetupToken } from './bootstrap.js';
import { isLive, liveApps, waitUntilServed } from './live-apps.js';
import { buildCli } from './build-cli.js';
import { ROOT } from './root.js';
import { startStack, type Stack } from './stack.js';

const PORTS = { edge: Number(process.env.ZECTRE_EDGE_PORT ?? 8787), proxy: Number(process.env.ZECTRE_PROXY_PORT ?? 8080), agent: Number(process.env.ZECTRE_AGENT_PORT ?? 7070) };
/** ZECTRE_STATE_DIR moves the state (and so runs a second, separate platform: the npm start test does). */
const dir = process.env.ZECTRE_STATE_DIR || join(ROOT, '.zectre');
/** How long the banner waits for deployed apps to answer (a restart starts all their tasks again). */
const APPS_WAIT_MS = 180_000;
const t0 = Date.now();
const say = (m: string) => console.log(`[zectre ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

let stack: Stack | undefined;
let cliBin = '';
let dashboardUrl = '';
/** Printed until the local admin has a passkey: opening it enrols one (the CLI needs none, it has a token). */
let setupUrl: string | undefined;
let stopping: Promise<void> | undefined;
/** Idempotent: Ctrl-C reaches npm, tsx and this process at once, so a signal can arrive twice. */
function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    say('stopping…');
    await stack?.stop();
    say('stopped; nothing left running');
    process.exit(code);
  })();
  return stopping;
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  const built = buildCli(); // the CLI this runs, and users run with npx zectre (package.json "bin")
  stack = await startStack({
    dir,
    db: process.env.DATABASE_URL ? { kind: 'postgres', url: process.env.DATABASE_URL } : { kind: 'pglite', dataDir: join(dir, 'pglite') },
    ports: PORTS,
    echo: process.env.ZECTRE_VERBOSE === '1',
    progress: say,
  });
  cliBin = await built;
  const cliConfig = configPath();
  await writeConfig(cliConfig, { apiUrl: stack.apiUrl, token: stack.adminToken });
  say(`API at ${stack.apiUrl}; the zectre CLI is logged in as admin (${cliConfig})`);
  // Passkeys need a domain, not an IP: the dashboard is shown at localhost (edge/catalog/webauthn/relying-party.ts).
  dashboardUrl = stack.apiUrl.replace('//127.0.0.1:', '//localhost:');
  const setupToken = await createSetupToken(stack.db.options);
  setupUrl = setupToken ? `${dashboardUrl}${setupPath(setupToken)}` : undefined;

  const client = new ApiClient(stack.apiUrl, stack.adminToken);
  if (await isLive(client, 'hello')) {
    say('examples/hello is already live: not deploying it again (npx zectre deploy examples/hello --project hello does)');
  } else {
    say('deploying examples/hello…');
    await cli(['projects', 'create', 'hello'], true);
    if ((await cli(['deploy', join(ROOT, 'examples/hello'), '--project', 'hello'])) !== 0) {
      say('the sample deployment failed (see above); the platform keeps running');
    }
  }
  const apps = await liveApps(client, stack.appsDomain);
  if (apps.length) {
    say(`waiting for ${apps.length} deployed app(s) to answer through the proxy…`);
    const waiting = await waitUntilServed(stack.proxyUrl, apps.map((a) => a.host), APPS_WAIT_MS);
    if (waiting.length) say(`not answering yet after ${APPS_WAIT_MS / 1000} s: ${waiting.join(', ')} (see npx zectre status)`);
  }
  say('ready');
  console.log(banner(stack, apps.map((a) => a.project)));
} catch (err) {
  console.error(`npm start failed: ${(err as Error).message}`);
  await shutdown(1);
}

function banner(stack: Stack, projects: string[]): string {
  const host = (project: string) => `${project}.${stack.appsDomain}`;
  const shown = projects.includes('hello') ? 'hello' : projects[0];
  const app = shown
    ? `  ${projects.length > 1 ? `Deployed apps: ${projects.map(host).join(', ')}. ` : ''}${shown} answers at:
    curl -H 'Host: ${host(shown)}' ${stack.proxyUrl}/
    http://${host(shown)}:${PORTS.proxy}/   (*.localhost resolves to this machine in browsers and curl)
`
    : '  No app is deployed.\n';
  return `
  Zectre is running.
${app}
${
    setupUrl
      ? `  Dashboard: create the admin's passkey (link works once, for 24 h):\n    ${setupUrl}\n  or sign in at ${dashboardUrl}/ with an API token (npx zectre tokens create dashboard prints one)\n`
      : `  Dashboard: ${dashboardUrl}/  sign in with your passkey, or an API token (npx zectre tokens create dashboard)\n`
  }  Try:  npx zectre status hello    npx zectre logs hello -f    npx zectre deploy examples/hello --project hello
  Ctrl-C stops everything.
`;
}

/** Runs the real CLI binary, as a user would; output goes straight to this terminal. */
function cli(args: string[], quietIfExists = false): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBin, ...args], {
      stdio: quietIfExists ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.on('exit', (code) => {
      // `projects create` on a second start finds the project already there: not worth a line.
      if (quietIfExists && code !== 0 && !/already exists/.test(output)) process.stdout.write(output);
      resolve(code ?? 1);
    });
  });
}
