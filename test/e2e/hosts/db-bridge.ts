/**
 * Run inside the control-plane host's namespace: the WebSocket bridge in front of PostgreSQL (as Neon
 * runs in front of its databases), reachable on the host's address. dev/bridge.ts listens on
 * loopback only, so a TCP relay puts it on the host's address for the Worker, the proxies and the test.
 * Usage: db-bridge.ts PG_HOST PG_PORT LISTEN_HOST LISTEN_PORT
 */
import { createConnection, createServer } from 'node:net';
import { startBridge } from '../../../dev/bridge.js';

const [pgHost, pgPort, listenHost, listenPort] = process.argv.slice(2);
const bridge = await startBridge({ host: pgHost!, port: Number(pgPort) });
const relay = createServer((client) => {
  const upstream = createConnection({ host: '127.0.0.1', port: bridge.port });
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
relay.listen(Number(listenPort), listenHost, () => console.log(`bridge ready on ${listenHost}:${listenPort}`));
