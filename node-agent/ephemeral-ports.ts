import { readFileSync } from 'node:fs';

/**
 * Ports the kernel hands to outgoing connections (Linux `ip_local_port_range`). A task port inside
 * that range can be held by any client socket on the node (a database connection, a keep-alive
 * upstream) for hours, and the task placed on it waits until it is released.
 */
export function ephemeralRange(read = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')): [number, number] | undefined {
  try {
    const [low, high] = read().trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) ? [low!, high!] : undefined;
  } catch {
    return undefined; // not Linux, or /proc not mounted: nothing to warn about
  }
}

/** The warning to print when the task port range overlaps the ephemeral range, else undefined. */
export function ephemeralOverlapWarning(tasks: [number, number], ephemeral: [number, number] | undefined): string | undefined {
  if (!ephemeral || tasks[1] < ephemeral[0] || tasks[0] > ephemeral[1]) return undefined;
  return (
    `warning: task ports ${tasks[0]}-${tasks[1]} overlap the kernel's ephemeral ports ${ephemeral[0]}-${ephemeral[1]}` +
    ' (net.ipv4.ip_local_port_range): an outgoing connection may hold a task\'s port and keep it from starting.' +
    ' Set ZECTRE_AGENT_PORT_RANGE below the ephemeral range (the default is 20000-29999).'
  );
}
