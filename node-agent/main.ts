/** Agent entry point: `tsx node-agent/main.ts` (config from ZECTRE_* environment variables). */
import { startAgent, type RunningAgent } from './agent.js';
import { ConfigError, configFromEnv } from './env-config.js';
import { ephemeralOverlapWarning, ephemeralRange } from './ephemeral-ports.js';

/** EX_CONFIG: a bad setting or a refused join token; the systemd unit does not restart on it. */
const EXIT_CONFIG = 78;

let agent: RunningAgent | undefined;
let stopping = false;

// Installed before starting: hyper-express listens for signals itself, which would otherwise
// leave an agent still waiting to register unable to be stopped.
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.error(`[agent] ${signal}: stopping`);
  if (!agent) process.exit(0); // still registering: no task was started yet
  agent.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`[agent] stop failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const overlap = ephemeralOverlapWarning(config.portRange, ephemeralRange());
  if (overlap) console.error(`[agent] ${overlap}`);
  // Files the agent creates are its own (0600/0700) unless it says otherwise; tasks inherit the mask.
  process.umask(0o077);
  agent = await startAgent(config);
  console.log(`agent ready: node ${agent.nodeId}, listening on http://${config.listenHost}:${agent.port} (push ${config.push ? 'on' : 'off: poll only'})`);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `agent: ${err.message}` : `agent failed to start: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? EXIT_CONFIG : 1);
});
