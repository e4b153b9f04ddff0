/** Entry point: `tsx node-proxy/main.ts` (or the built JS). Configured by environment variables. */
import { dbOptionsFromEnv } from '../sql/connect.js';
import { startProxy } from './proxy.js';

const appsDomain = process.env.ZECTRE_APPS_DOMAIN || 'zectre.localhost';
const host = process.env.ZECTRE_PROXY_HOST || '127.0.0.1';
const port = Number(process.env.ZECTRE_PROXY_PORT || 8080);

try {
  const proxy = await startProxy({ db: dbOptionsFromEnv(), appsDomain, host, port });
  console.log(`proxy ready on http://${host}:${proxy.port} (apps domain ${appsDomain})`);
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    proxy.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`proxy: error while closing: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
