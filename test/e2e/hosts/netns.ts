/**
 * Three "hosts" on one machine: network namespaces joined by veth pairs to one bridge. The test
 * process stays in the root namespace with an address on the bridge, so it reaches every host the
 * way an operator's laptop would; the hosts reach each other only by their own addresses.
 * Every name starts with PREFIX so a crashed run's leftovers can be found and removed.
 */
import { execFileSync } from 'node:child_process';

export const PREFIX = 'zh-';
const BRIDGE = `${PREFIX}br`;
const SUBNET = '10.213.7';
/** The root namespace's (the test's) address on the bridge. */
export const TEST_ADDRESS = `${SUBNET}.1`;

export interface Host {
  /** Namespace name, e.g. zh-cp. */
  ns: string;
  address: string;
  /** The veth end in the root namespace: down = this host is cut off from everyone. */
  link: string;
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A command prefix that runs a program inside the host's namespace. */
export const inHost = (host: Host): string[] => ['ip', 'netns', 'exec', host.ns];

/** Why this machine cannot run the suite (not root, or the kernel refuses namespaces), or null. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the multi-host suite needs root (ip netns, veth pairs, a bridge)';
  const probe = `${PREFIX}probe`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    ip('link', 'add', `${PREFIX}probe-a`, 'type', 'veth', 'peer', 'name', `${PREFIX}probe-b`);
    ip('link', 'del', `${PREFIX}probe-a`);
    return null;
  } catch (err) {
    return `network namespaces or veth pairs are refused here (${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}): skipping the multi-host suite`;
  }
}

/** Creates the bridge and one namespace per name, with addresses .10, .11, … */
export function createHosts(names: string[]): Host[] {
  removeHosts();
  ip('link', 'add', BRIDGE, 'type', 'bridge');
  ip('addr', 'add', `${TEST_ADDRESS}/24`, 'dev', BRIDGE);
  ip('link', 'set', BRIDGE, 'up');
  return names.map((name, i) => {
    const host = { ns: `${PREFIX}${name}`, address: `${SUBNET}.${10 + i}`, link: `${PREFIX}${name}-a` };
    const inner = `${PREFIX}${name}-b`;
    ip('netns', 'add', host.ns);
    ip('link', 'add', host.link, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', host.ns);
    ip('link', 'set', host.link, 'master', BRIDGE, 'up');
    ip('-n', host.ns, 'link', 'set', 'lo', 'up');
    ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', inner);
    ip('-n', host.ns, 'link', 'set', inner, 'up');
    return host;
  });
}

/** Kills every process left in our namespaces (by pid), deletes them, their links and the bridge: also a crashed run's. */
export function removeHosts(): void {
  const namespaces = ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(PREFIX));
  for (const ns of namespaces) {
    for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    ip('netns', 'del', ns);
  }
  // A deleted namespace is dismantled later (its veth pairs with it), up to minutes later while sockets
  // to it linger: our ends in the root namespace go now, and the bridge.
  const links = ip('-o', 'link', 'show').split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '');
  for (const link of links.filter((l) => l.startsWith(PREFIX))) {
    try {
      ip('link', 'del', link);
    } catch {
      // went with its peer
    }
  }
}

/** Link down: the host loses every peer (a pulled cable). */
export function setLink(host: Host, up: boolean): void {
  ip('link', 'set', host.link, up ? 'up' : 'down');
}

/** Blackhole routes both ways between two hosts only: each still reaches everyone else. */
export function cutBetween(a: Host, b: Host, cut: boolean): void {
  for (const [from, to] of [[a, b], [b, a]] as const) ip('-n', from.ns, 'route', cut ? 'add' : 'del', 'blackhole', `${to.address}/32`);
}
