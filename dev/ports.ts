import { createServer } from 'node:net';
import { ephemeralRange } from '../node-agent/ephemeral-ports.js';
import { portIsFree } from '../node-agent/port-check.js';

/**
 * An unused TCP port on 127.0.0.1, for stacks that must not collide (tests run several). Picked
 * above the kernel's ephemeral range where there is room: a port the kernel hands out (listen on
 * port 0) can be taken by any outgoing connection before the server that was meant to get it binds
 * it ("Address already in use" from wrangler in CI). Task port ranges sit below that range.
 */
export async function freePort(): Promise<number> {
  const high = (ephemeralRange()?.[1] ?? 65_535) + 1;
  for (let attempt = 0; high <= 64_535 && attempt < 50; attempt++) {
    const port = high + Math.floor(Math.random() * (65_536 - high));
    if (!handedOut.has(port) && (await portIsFree(port))) {
      handedOut.add(port);
      return port;
    }
  }
  return kernelPort();
}

/** Ports this process gave out already: a server may not have bound its port yet. */
const handedOut = new Set<number>();

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether every port in from..to can be listened on at 127.0.0.1 right now (the agent's own probe). */
export async function portsFree(from: number, to: number): Promise<boolean> {
  for (let port = from; port <= to; port++) if (!(await portIsFree(port))) return false;
  return true;
}
