import { createServer } from 'node:net';
import { portIsFree } from '../node-agent/port-check.js';

/** An unused TCP port on 127.0.0.1, for stacks that must not collide (tests run several). */
export function freePort(): Promise<number> {
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
