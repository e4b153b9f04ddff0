import { createServer } from 'node:net';

/**
 * Whether nothing listens on 127.0.0.1:port. A task started on a port another process holds would
 * crash-loop on EADDRINUSE while its health check answered from the foreign listener, so the task
 * would look healthy while another program served its traffic.
 */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(true)));
  });
}
