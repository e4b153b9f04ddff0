/** Agent entry point: `tsx node-agent/main.ts` (config from ZECTRE_* environment variables). */
import { startAgent } from './agent.js';
import { ConfigError, configFromEnv } from './env-config.js';

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const agent = await startAgent(config);
  const pushNote = config.push ? `push on http://${config.listenHost}:${agent.port}` : 'push off (poll only)';
  console.log(`agent ready: node ${agent.nodeId}, ${pushNote}`);

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

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? `agent: ${err.message}` : `agent failed to start: ${(err as Error).message}`);
  process.exit(1);
});
