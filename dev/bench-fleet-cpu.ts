/**
 * CPU time of the processes the fleet bench measures, from /proc:
 * workerd (the processes under wrangler), the PostgreSQL backends serving the Worker (known from the
 * bridge), and the simulator itself.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { BridgeHooks } from './bridge.js';

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

interface ProcStat {
  comm: string;
  ppid: number;
  /** utime + stime, seconds. */
  cpu: number;
  /** cutime + cstime: the children it has reaped, seconds. */
  reaped: number;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited
  }
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // Fields after "(comm)": state ppid … utime (14th of proc(5)) stime (15th).
  const seconds = (i: number) => Number(fields[i]) / TICKS_PER_SECOND;
  return { comm: text.slice(text.indexOf('(') + 1, close), ppid: Number(fields[1]), cpu: seconds(11) + seconds(12), reaped: seconds(13) + seconds(14) };
}

/**
 * Seconds a single-threaded process (a PostgreSQL backend) has been on a CPU, from schedstat in
 * nanoseconds: /proc/<pid>/stat counts in clock ticks (10 ms) rounded down, which would lose most
 * of a short-lived backend's few milliseconds.
 */
export function onCpuSeconds(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return undefined; // exited
  }
}

/** Every process below `root` (children, grandchildren…). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = procStat(pid);
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length) for (const child of children.get(queue.shift()!) ?? []) found.push(child), queue.push(child);
  return found;
}

/**
 * CPU seconds of a whole process tree so far: the root, the children it reaped, the live descendants.
 * For a PostgreSQL server: the postmaster, every backend that ended (with its fork and exit) and
 * those still running, background workers included.
 */
export function treeCpu(rootPid: number): number {
  const root = procStat(rootPid);
  if (!root) return NaN;
  return descendants(rootPid).reduce((sum, pid) => sum + (procStat(pid)?.cpu ?? 0), root.cpu + root.reaped);
}

/** CPU seconds of the Worker's processes: workerd (all of them under wrangler) and wrangler's own Node processes. */
export class WorkerCpu {
  private readonly workerd: number[];
  private readonly wrangler: number[];

  constructor(wranglerPid: number) {
    const below = descendants(wranglerPid);
    this.workerd = below.filter((pid) => procStat(pid)?.comm === 'workerd');
    this.wrangler = [wranglerPid, ...below.filter((pid) => !this.workerd.includes(pid))];
    if (!this.workerd.length) throw new Error(`no workerd process found under wrangler (pid ${wranglerPid})`);
  }

  sample(): { workerd: number; wrangler: number } {
    const sum = (pids: number[]) => pids.reduce((total, pid) => total + (procStat(pid)?.cpu ?? 0), 0);
    return { workerd: sum(this.workerd), wrangler: sum(this.wrangler) };
  }
}

/**
 * CPU seconds of the PostgreSQL backends serving one bridge's connections, including those that
 * ended: a backend's CPU is read when its client sends Terminate (the bridge calls before the backend
 * sees it), so a request's short-lived connection is counted in full. Autovacuum, the WAL writer and
 * the checkpointer are not counted (the server may be shared with other databases).
 */
export class BackendCpu {
  private readonly live = new Set<number>();
  private ended = 0;
  /** Backends that were gone before their CPU could be read (connection dropped without Terminate). */
  unread = 0;

  readonly hooks: BridgeHooks = {
    onBackendStart: (pid) => void this.live.add(pid),
    onBackendEnd: (pid) => {
      if (!this.live.delete(pid)) return;
      const cpu = onCpuSeconds(pid);
      if (cpu === undefined) this.unread++;
      else this.ended += cpu;
    },
  };

  sample(): number {
    let sum = this.ended;
    for (const pid of this.live) sum += onCpuSeconds(pid) ?? 0;
    return sum;
  }
}

/** The simulator's own CPU seconds (this process). */
export function selfCpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
