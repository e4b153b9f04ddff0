/**
 * Does a backend's process still answer at all? `OPTIONS *` is HTTP's own no-op "ping" (RFC 9110
 * §9.3.7): any answer, whatever its status, or an orderly close means the process runs; a refused,
 * reset or silent connection within `timeoutMs` means it does not (a frozen VM still accepts
 * connections in its kernel, but nothing reads them).
 */
import { connect } from 'node:net';

export function answers(host: string, port: number, hostHeader: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, noDelay: true });
    const done = (alive: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    // Neither keeps a proxy that is shutting down alive.
    socket.unref();
    const timer = setTimeout(() => done(false), timeoutMs).unref();
    socket.on('connect', () => socket.write(`OPTIONS * HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`));
    socket.on('data', () => done(true));
    socket.on('end', () => done(true));
    socket.on('error', () => done(false));
  });
}
