/** Agent entry point: `tsx node-agent/main.ts` (config from ZECTRE_* environment variables). */
import { startAgent } from './agent.js';
import { ConfigError, configFromEnv } from './env-config.js';

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const agent = await startAgent(config);
  console.log(`agent ready: node ${agent.nodeId}, listening on http://${config.listenHost}:${agent.port} (push ${config.push ? 'on' : 'off: poll only'})`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`[agent] ${signal}: stopping`);
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[agent] stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** EX_CONFIG: a bad setting or a refused join token; the systemd unit does not restart on it. */
const EXIT_CONFIG = 78;

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `agent: ${err.message}` : `agent failed to start: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? EXIT_CONFIG : 1);
});
