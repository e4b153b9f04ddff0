/**
 * The whole platform on one machine: database (PostgreSQL or embedded PGlite) behind the WebSocket
 * bridge, the edge Worker in workerd (wrangler dev), one agent and one proxy as child processes.
 * `npm start` and the end-to-end tests both run exactly this.
 */
import { AGENT_NODE_FLAGS } from '../node-agent/launch.js';
import { PROXY_ENV, PROXY_NODE_FLAGS } from '../node-proxy/launch.js';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultWorkDir } from '../node-agent/env-config.js';
import { removeWorkRoot } from '../node-agent/workspace.js';
import { hashToken } from '../protocol/index.js';
import { createPool, type DbOptions } from '../sql/connect.js';
import { createAdminToken, createJoinToken } from './bootstrap.js';
import { createProxyRole } from '../sql/proxy-role.js';
import { buildAssets } from './build.js';
import { openDatabase, type DatabaseChoice, type LocalDatabase } from './database.js';
import { freePort, portsFree } from './ports.js';
import { startChild, waitFor, type Child } from './processes.js';
import { ROOT } from './root.js';
import { loadOrCreateSecrets } from './secrets.js';
import { startWorker } from './worker.js';

export interface StackOptions {
  /** State directory (0700): secrets, credentials, wrangler's R2 data, the agent's state (and PGlite's). */
  dir: string;
  db: DatabaseChoice;
  ports?: { edge?: number; proxy?: number; agent?: number };
  appsDomain?: string;
  heartbeatIntervalMs?: number;
  /** Print each part's output with a prefix. */
  echo?: boolean;
  /** Report progress ("starting the edge…"). */
  progress?: (message: string) => void;
  /** Extra Worker vars (wrangler.toml [vars] and secrets), e.g. { MAX_ARTIFACT_BYTES: '65536' }. */
  workerVars?: Record<string, string>;
  /** Extra environment for the agent, e.g. { ZECTRE_AGENT_PUSH: 'off' }. */
  agentEnv?: Record<string, string>;
  /** Extra environment for the proxy, e.g. { ZECTRE_ACME_DIRECTORY: '…' }. */
  proxyEnv?: Record<string, string>;
}

export interface Stack {
  apiUrl: string;
  proxyUrl: string;
  appsDomain: string;
  adminToken: string;
  db: LocalDatabase;
  agent: Child;
  /**
   * The agent's work root (tasks' own directories): outside `dir`, which tasks must not enter, and
   * outside the checkout, whose package.json and node_modules an app would otherwise resolve upward.
   */
  agentWorkDir: string;
  proxy: Child;
  worker: Child;
  /** Kills the agent (SIGKILL: no cleanup, like a crash) and starts it again with the same environment. */
  restartAgent(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the edge Worker (a control-plane outage) / starts it again on the same port. */
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const say = opts.progress ?? (() => undefined);
  const appsDomain = opts.appsDomain ?? 'zectre.localhost';
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await chmod(opts.dir, 0o700); // it holds the secrets, the admin token and every artifact: tasks run as other uids
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
  };
  try {
    say(opts.db.kind === 'pglite' ? 'starting embedded PGlite…' : 'connecting to PostgreSQL…');
    const db = await openDatabase(opts.db);
    started.push({ stop: () => db.close() });
    say(`database: ${db.description} (migrated)`);
    const credentials = await ensureCredentials(db.options, join(opts.dir, 'credentials.json'));

    const ports = {
      edge: opts.ports?.edge ?? (await freePort()),
      proxy: opts.ports?.proxy ?? (await freePort()),
      agent: opts.ports?.agent ?? (await freePort()),
    };
    say('building static assets…');
    await buildAssets();
    say('starting the edge Worker in workerd (wrangler dev)…');
    const secrets = await loadOrCreateSecrets(join(opts.dir, 'secrets.json'));
    const workerOptions = {
      port: ports.edge,
      stateDir: opts.dir,
      echo: opts.echo,
      vars: {
        ...secrets,
        DATABASE_URL: db.options.databaseUrl,
        DB_WS_PROXY: db.options.wsProxy!,
        APPS_DOMAIN: appsDomain,
        APPS_PUBLIC_PORT: String(ports.proxy),
        HEARTBEAT_INTERVAL_MS: String(opts.heartbeatIntervalMs ?? 2000),
        ...opts.workerVars,
      },
    };
    let worker = await startWorker(workerOptions);
    started.push({ stop: () => worker.stop() });

    const node = [process.execPath, '--import', 'tsx'];
    // The proxy logs in as a role that reads only the routing views, as on a VM (issue 11.3);
    // PGlite has a single user, so there it shares the control plane's.
    const proxyDatabaseUrl = db.kind === 'postgres' ? (await createProxyRole(db.options, 'local', null)).databaseUrl : db.options.databaseUrl;
    const dbEnv = { DATABASE_URL: proxyDatabaseUrl, ZECTRE_DB_WS_PROXY: db.options.wsProxy };
    say('starting the proxy and the agent…');
    const proxy = startChild('proxy', node[0]!, [...PROXY_NODE_FLAGS, ...node.slice(1), 'node-proxy/main.ts'], {
      echo: opts.echo,
      cwd: ROOT,
      env: {
        ...process.env,
        ...PROXY_ENV,
        ...dbEnv,
        ZECTRE_APPS_DOMAIN: appsDomain,
        ZECTRE_PROXY_PORT: String(ports.proxy),
        // Its last routes (served while the database is unreachable) stay with the stack's state.
        ZECTRE_PROXY_STATE_DIR: join(opts.dir, 'proxy'),
        // <node-id>.nodes.<apps domain> POST /v1/desired-state reaches the local agent (node-proxy/README.md).
        ZECTRE_PROXY_AGENT_URL: `http://127.0.0.1:${ports.agent}`,
        ...opts.proxyEnv,
      },
    });
    started.push(proxy);
    const taskPorts = await taskPortBlock(); // the same block for a restarted agent
    const agentStateDir = join(opts.dir, 'agent');
    const agentWorkDir = defaultWorkDir(agentStateDir);
    started.push({ stop: () => removeWorkRoot(agentWorkDir, () => undefined) }); // after the agent has stopped its tasks
    const launchAgent = () => startChild('agent', node[0]!, [...AGENT_NODE_FLAGS, ...node.slice(1), 'node-agent/main.ts'], {
      echo: opts.echo,
      cwd: ROOT,
      env: {
        ...process.env,
        ZECTRE_API_URL: worker.url,
        ZECTRE_JOIN_TOKEN: credentials.joinToken,
        ZECTRE_AGENT_STATE_DIR: agentStateDir,
        ZECTRE_AGENT_WORK_DIR: agentWorkDir,
        ZECTRE_AGENT_NAME: 'local',
        ZECTRE_AGENT_PORT: String(ports.agent),
        ZECTRE_AGENT_STOP_TASKS_ON_EXIT: '1',
        ZECTRE_AGENT_PORT_RANGE: taskPorts,
        ...opts.agentEnv,
      },
    });
    let agent = launchAgent();
    started.push({ stop: () => agent.stop() });
    await waitFor('the proxy', async () => /proxy ready/.test(proxy.output()), 30_000, proxy);
    await waitFor('the agent to register', async () => /agent ready/.test(agent.output()), 30_000, agent);

    return {
      apiUrl: worker.url,
      proxyUrl: `http://127.0.0.1:${ports.proxy}`,
      appsDomain,
      adminToken: credentials.adminToken,
      db,
      get agent() {
        return agent;
      },
      agentWorkDir,
      proxy,
      get worker() {
        return worker;
      },
      async restartAgent(signal: NodeJS.Signals = 'SIGKILL') {
        const exited = new Promise((resolve) => agent.proc.once('exit', resolve));
        agent.proc.kill(signal); // the agent alone: its tasks live in their own process groups
        await exited;
        agent = launchAgent();
        await waitFor('the restarted agent', async () => /agent ready/.test(agent.output()), 30_000, agent);
      },
      stopWorker: () => worker.stop(),
      async startWorker() {
        worker = await startWorker(workerOptions);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * A random block of 100 task ports in 20000-29999 that nothing listens on: several stacks on one
 * machine (parallel test files, a developer's `npm start` beside the tests) must not hand their apps
 * the same ports, and an app still exiting from an earlier stack would make a new task wait for its
 * port (with backoff, up to 30 s).
 */
async function taskPortBlock(): Promise<string> {
  let base = 20000;
  for (let attempt = 0; attempt < 20; attempt++) {
    base = 20000 + 100 * Math.floor(Math.random() * 100);
    if (await portsFree(base, base + 99)) break;
  }
  return `${base}-${base + 99}`;
}

interface Credentials {
  adminToken: string;
  joinToken: string;
}

/**
 * Reuses the admin token of an earlier run when the database still knows it; the join token is made
 * anew on every start (expiring, the previous one revoked), so an old credentials.json cannot join
 * nodes for ever.
 */
async function ensureCredentials(db: DbOptions, path: string): Promise<Credentials> {
  if (existsSync(path)) await chmod(path, 0o600); // an older stack wrote it with the default mode
  const saved = existsSync(path) ? (JSON.parse(await readFile(path, 'utf8')) as Credentials) : null;
  const adminToken = saved && (await adminTokenKnown(db, saved.adminToken)) ? saved.adminToken : await createAdminToken(db);
  const credentials = { adminToken, joinToken: await createJoinToken(db, saved?.joinToken) };
  await writeFile(path, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}

async function adminTokenKnown(db: DbOptions, token: string): Promise<boolean> {
  const pool = createPool(db, 1);
  try {
    const { rows } = await pool.query('SELECT 1 FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL', [await hashToken(token)]);
    return rows.length > 0;
  } finally {
    await pool.end();
  }
}
