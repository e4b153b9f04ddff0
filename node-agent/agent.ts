/** Wires the agent together: identity, push server, heartbeat loop, tasks and log shipping. */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegisterRequest, RegisterResponse } from '../protocol/index.js';
import { ArtifactCache } from './artifact-cache.js';
import { Backoff } from './backoff.js';
import { ConfigError } from './env-config.js';
import { ForeignPorts } from './foreign-ports.js';
import { HeartbeatLoop } from './heartbeat-loop.js';
import { PauseWatch } from './pause-watch.js';
import { ProcessTracker, type TrackerKind } from './process-tracker.js';
import { HttpError } from './http-json.js';
import { deleteIdentity, loadIdentity, register, saveIdentity, type Identity } from './identity.js';
import { IdentityTokens } from './identity-tokens.js';
import { LogShipper } from './log-shipper.js';
import { createMetrics } from './metrics.js';
import { startPushServer } from './push-server.js';
import { verifyPushToken } from './push-token.js';
import { CgroupLimiter } from './resources.js';
import { TaskSet } from './task-set.js';
import { TaskUsers } from './task-users.js';
import type { UnpackLimits } from './unpack.js';
import { Workspace } from './workspace.js';
import { isBuilder } from './build/labels.js';
import { BuildLoop } from './build/loop.js';

export interface AgentConfig {
  apiUrl: string;
  joinToken: string;
  /** Root-only (0700): identity, task records, log spools, artifact cache. */
  stateDir: string;
  /** Tasks' own directories (0711, outside stateDir). */
  workDir: string;
  /** uids handed to projects, one each (only when the agent runs as root). */
  uidRange: [number, number];
  unpackLimits: UnpackLimits;
  name: string;
  address: string;
  listenHost: string;
  /** 0 = ephemeral */
  listenPort: number;
  /** false = register without pushUrl, poll only */
  push: boolean;
  /**
   * Push URL to register instead of http://<listen address>:<port>/v1/desired-state, e.g. through the
   * node's proxy: https://{nodeId}.nodes.example.com/v1/desired-state ({nodeId} is filled in).
   */
  pushUrl?: string;
  /** A delegated cgroup v2 directory for per-task memory.max and cpu.weight; absent = RSS watchdog. */
  cgroupRoot?: string;
  capacity: { cpuMillis: number; memoryMb: number };
  portRange: [number, number];
  stopTasksOnExit: boolean;
  /** Bytes on disk all task log spools may hold together (unshipped logs); beyond, lines are dropped with a notice. */
  logSpoolBytes: number;
  /** Sent at registration (ZECTRE_AGENT_LABELS); `builder` makes this node take builds (node-agent/build/). */
  labels?: Record<string, string>;
  /** Where builds run (default: <workDir>-builds; outside the state directory). */
  buildDir?: string;
  /** How often an idle builder asks for a queued build. */
  buildPollMs?: number;
  log?: (msg: string) => void;
}

export interface RunningAgent {
  nodeId: string;
  port: number;
  stop(): Promise<void>;
}

const LOG_FLUSH_ON_STOP_MS = 2_000;
const TRACKERS: Record<TrackerKind, string> = {
  cgroup2: 'a cgroup v2 per task',
  freezer: 'a cgroup per task in the v1 freezer hierarchy',
  proc: 'their ZECTRE_TASK_ID in /proc (no writable cgroup hierarchy: a process that clears its environment can escape)',
};

export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const log = config.log ?? ((msg: string) => console.error(`[agent] ${msg}`));
  const apiUrl = config.apiUrl.replace(/\/+$/, '');
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  await chmod(config.stateDir, 0o700); // also when an older agent made it 0755
  const users = TaskUsers.open(config.stateDir, config.uidRange);
  if (!users.isolating) warnSharedUid(log);
  const workspace = await Workspace.open(config.workDir, config.unpackLimits, { stateDir: config.stateDir, isolating: users.isolating });

  const tracker = ProcessTracker.open(config.stateDir, config.cgroupRoot ? { cgroupRoot: config.cgroupRoot } : {});
  log(`task processes tracked by ${TRACKERS[tracker.kind]}`);

  let identity: Identity | undefined = await loadIdentity(config.stateDir);
  const credential = () => identity?.credential ?? '';
  // Workload identity tokens of the tasks (ZECTRE_IDENTITY_TOKEN), asked for with the node credential.
  const identityTokens = new IdentityTokens({ apiUrl, nodeId: () => identity?.nodeId ?? '', credential, log });
  let tasks: TaskSet | undefined;
  const foreignPorts = new ForeignPorts();
  const metrics = createMetrics(() => tasks?.observed() ?? []);
  const logs = new LogShipper(apiUrl, credential, metrics, log);
  let heartbeat: HeartbeatLoop | undefined;
  const pauses = new PauseWatch(
    () => 2 * (heartbeat?.interval ?? 5_000),
    () => heartbeat?.confirm() ?? Promise.resolve(),
    log,
  );
  tasks = new TaskSet(
    {
      stateDir: config.stateDir,
      workspace,
      users,
      artifacts: new ArtifactCache(join(config.stateDir, 'artifacts'), apiUrl, credential),
      addSpool: (spool) => logs.add(spool),
      onLinesDropped: (n) => metrics.linesDropped.inc(n),
      onChange: () => heartbeat?.poke(),
      mayStart: () => pauses.mayStart(),
      identity: identityTokens,
      foreignPorts,
      spoolBudget: { limitBytes: config.logSpoolBytes, usedBytes: 0 },
      tracker,
      ...(config.cgroupRoot ? { cgroup: new CgroupLimiter(config.cgroupRoot) } : {}),
    },
    (taskId, dir) => logs.close(taskId, dir),
    log,
  );
  const taskSet = tasks;
  const server = await startPushServer(config.listenHost, config.listenPort, metrics.registry, async (token) =>
    taskSet.apply(await verifyPushToken(token, identity)),
  );

  const registerRequest = buildRegisterRequest(config, server.port);
  const registerNode = async (): Promise<RegisterResponse> => {
    const res = await register(apiUrl, config.joinToken, registerRequest);
    identity = { nodeId: res.nodeId, credential: res.credential, issuer: res.issuer, audience: res.audience, jwks: res.jwks };
    await saveIdentity(config.stateDir, identity);
    taskSet.resetGeneration();
    log(`registered as node ${res.nodeId}`);
    return res;
  };

  let intervalMs: number | undefined;
  if (identity) {
    log(`reusing identity of node ${identity.nodeId} from ${config.stateDir}`);
    await taskSet.restore(); // re-adopt (or replace) the tasks of the last applied generation
  } else {
    try {
      intervalMs = (await registerWithRetry(registerNode, apiUrl, log)).heartbeatIntervalMs;
    } catch (err) {
      server.close();
      throw err;
    }
  }

  heartbeat = new HeartbeatLoop({
    apiUrl,
    identity: () => identity!,
    // The old identity stays in memory until a new one replaces it, so a failed attempt is simply retried.
    reRegister: async () => {
      await deleteIdentity(config.stateDir);
      await registerNode();
    },
    // The push URL rides along every heartbeat, so a changed port or proxy route reaches the scheduler.
    report: () => ({
      appliedGeneration: taskSet.appliedGeneration,
      tasks: taskSet.observed(),
      pushUrl: pushUrlFor(config, server.port, identity!.nodeId),
      foreignPorts: foreignPorts.list(),
    }),
    apply: (desired) => void taskSet.apply(desired),
    onRoundTrip: (seconds) => metrics.heartbeatSeconds.observe(seconds),
    log,
  });
  heartbeat.start(intervalMs);
  pauses.start();
  logs.start();
  const builds = isBuilder(config.labels ?? {})
    ? new BuildLoop(
        {
          apiUrl,
          credential,
          buildRoot: config.buildDir ?? `${config.workDir.replace(/\/+$/, '')}-builds`,
          users,
          unpackLimits: config.unpackLimits,
          maxCacheBytes: 100 * 1024 * 1024,
          log,
        },
        () => identity!.nodeId,
        config.buildPollMs ?? 2_000,
      )
    : undefined;
  await builds?.start();

  let stopped: Promise<void> | undefined;
  const shutdown = async () => {
    server.close(); // first, so no push starts a task during shutdown
    pauses.stop();
    identityTokens.stop();
    await builds?.stop();
    await heartbeat.stop();
    if (config.stopTasksOnExit) {
      await taskSet.stopAll();
      tracker.dispose();
      // Task directories stay (with their records): a restarted agent starts the tasks from them without unpacking again.
    } else {
      await taskSet.release();
    }
    await logs.stop(LOG_FLUSH_ON_STOP_MS);
  };
  return {
    nodeId: identity!.nodeId,
    port: server.port,
    stop: () => (stopped ??= shutdown()),
  };
}

/** Said once, at startup, where an operator looks: without root, nothing separates tenants on this node. */
function warnSharedUid(log: (msg: string) => void): void {
  const uid = process.getuid?.() ?? '?';
  log(`WARNING: not running as root: every task runs as uid ${uid}, the agent's own. Any deployed app can read the node`);
  log('WARNING: credential, every other task\'s files and logs, and signal their processes. Run the agent as root on a');
  log('WARNING: node shared by projects: it then runs each project\'s tasks as an unprivileged uid of their own.');
}

function buildRegisterRequest(config: AgentConfig, port: number): RegisterRequest {
  // Before registering the node id is unknown: a {nodeId} URL is sent with the first heartbeat instead.
  const pushUrl = config.pushUrl?.includes('{nodeId}') ? null : pushUrlFor(config, port, '');
  return {
    name: config.name,
    address: config.address,
    ...(pushUrl ? { pushUrl } : {}),
    labels: config.labels ?? {},
    capacity: config.capacity,
    portRange: config.portRange,
  };
}

/** The URL the scheduler pushes desired state to; null when push is off (poll only). */
function pushUrlFor(config: AgentConfig, port: number, nodeId: string): string | null {
  if (!config.push) return null;
  if (config.pushUrl) return config.pushUrl.replaceAll('{nodeId}', nodeId);
  // A wildcard listen address is not reachable as such; the node's address is.
  const host = ['0.0.0.0', '::'].includes(config.listenHost) ? config.address : config.listenHost;
  return `http://${host}:${port}/v1/desired-state`;
}

/** A down control plane is waited out; a refused join token is not (retrying would not change the answer). */
async function registerWithRetry<T>(attempt: () => Promise<T>, apiUrl: string, log: (msg: string) => void): Promise<T> {
  const backoff = new Backoff(500, 30_000, true);
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof HttpError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
        throw new ConfigError(`registration at ${apiUrl} refused: ${err.message}`);
      }
      const delay = backoff.next();
      log(`registration at ${apiUrl} failed: ${(err as Error).message}; retrying in ${Math.round(delay)} ms`);
      await sleep(delay);
    }
  }
}
