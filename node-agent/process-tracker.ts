/**
 * Every process of a task, also those that left its process group (setsid, double forks): a task's
 * stop or crash must leave nothing behind. In order of preference:
 * - cgroup2: a cgroup per task under a cgroup v2 mount (the delegated ZECTRE_AGENT_CGROUP, or a
 *   directory of this agent under a cgroup2 mount, e.g. the hybrid /sys/fs/cgroup/unified);
 *   cgroup.kill ends all members at once;
 * - freezer: a cgroup per task in the cgroup v1 freezer hierarchy: freeze, SIGKILL every member, thaw;
 * - proc: a /proc sweep for the ZECTRE_TASK_ID=<id> the agent puts in every task's environment
 *   (inherited by children; an app that clears it from a child's environment escapes this one).
 * A new process waits (a shell loop before exec) until it is in its cgroup, so nothing it forks can
 * start outside.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat } from './process-group.js';

export type TrackerKind = 'cgroup2' | 'freezer' | 'proc';
export const TASK_ID_ENV = 'ZECTRE_TASK_ID';

export class ProcessTracker {
  private constructor(
    readonly kind: TrackerKind,
    /** This agent's cgroup directory (cgroup kinds). */
    private readonly base: string,
    /** The delegated cgroup v2 directory given to the agent, never removed by it. */
    private readonly cgroupRoot?: string,
  ) {}

  /**
   * The best kind this machine offers (`only`: that one, or an error saying why not). `stateDir`
   * names this agent's cgroup, so several agents on one machine never share one.
   */
  static open(stateDir: string, opts: { cgroupRoot?: string; only?: TrackerKind } = {}): ProcessTracker {
    const name = `zectre-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`;
    const mounts = cgroupMounts();
    const candidates: [TrackerKind, string | undefined][] = [
      ['cgroup2', opts.cgroupRoot ?? mounts.find((m) => m.type === 'cgroup2')?.dir],
      ['freezer', mounts.find((m) => m.type === 'cgroup' && m.options.includes('freezer'))?.dir],
    ];
    for (const [kind, dir] of candidates) {
      if (opts.only && opts.only !== kind) continue;
      const base = opts.cgroupRoot && kind === 'cgroup2' ? opts.cgroupRoot : dir && join(dir, name);
      try {
        if (!base) throw new Error('no such hierarchy is mounted');
        mkdirSync(base, { recursive: true });
        return new ProcessTracker(kind, base, opts.cgroupRoot);
      } catch (err) {
        if (opts.only) throw new Error(`cannot track task processes with ${kind}: ${(err as Error).message}`);
      }
    }
    if (opts.only && opts.only !== 'proc') throw new Error(`cannot track task processes with ${opts.only}`);
    return new ProcessTracker('proc', '');
  }

  /** The task's cgroup as /proc/self/cgroup shows it once a process is in it; undefined for proc. */
  cgroupPath(taskId: string): string | undefined {
    return this.kind === 'proc' ? undefined : this.dir(taskId).slice(this.mountOf().length);
  }

  /** Puts the new process (waiting for it before it runs the command) into the task's cgroup. */
  enter(taskId: string, pid: number): void {
    if (this.kind === 'proc') return;
    mkdirSync(this.dir(taskId), { recursive: true });
    writeFileSync(join(this.dir(taskId), 'cgroup.procs'), String(pid));
  }

  /** Live processes of the task, wherever their process group or session. */
  members(taskId: string): number[] {
    const pids = this.kind === 'proc' ? markedProcesses(taskId) : readPids(join(this.dir(taskId), 'cgroup.procs'));
    return pids.filter((pid) => (procStat(pid)?.state ?? 'Z') !== 'Z');
  }

  signal(taskId: string, signal: NodeJS.Signals): void {
    for (const pid of this.members(taskId)) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
  }

  /** SIGKILLs every process of the task, none can fork away meanwhile; resolves once all are gone. */
  async killAll(taskId: string): Promise<void> {
    const dir = this.dir(taskId);
    if (this.kind === 'cgroup2' && existsSync(join(dir, 'cgroup.kill'))) {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
    } else if (this.kind === 'freezer' && existsSync(dir)) {
      writeFileSync(join(dir, 'freezer.state'), 'FROZEN');
      for (let i = 0; i < 200 && readFileSync(join(dir, 'freezer.state'), 'utf8').trim() !== 'FROZEN'; i++) await sleep(5);
      this.signal(taskId, 'SIGKILL');
      writeFileSync(join(dir, 'freezer.state'), 'THAWED');
    } else {
      // proc (or a cgroup2 without cgroup.kill): kill until nothing is left, forks included
      for (let i = 0; i < 20 && this.members(taskId).length; i++) this.signal(taskId, 'SIGKILL');
    }
    for (let waited = 0; this.members(taskId).length; waited += 25) {
      if (waited >= 5_000) throw new Error(`processes ${this.members(taskId).join(',')} of task ${taskId} are still there 5 s after SIGKILL`);
      await sleep(25);
    }
  }

  /** The task is gone: its (empty) cgroup goes too (retried a few times while the kernel still counts exiting members). */
  remove(taskId: string, attempt = 0): void {
    if (this.kind === 'proc') return;
    try {
      rmdirSync(this.dir(taskId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY' && attempt < 20) setTimeout(() => this.remove(taskId, attempt + 1), 100).unref();
    }
  }

  /** This agent's cgroup directory, once no task cgroup is left in it (agent shutdown that stopped its tasks). */
  dispose(): void {
    if (this.kind === 'proc' || this.base === this.cgroupRoot) return;
    try {
      for (const entry of readdirSync(this.base, { withFileTypes: true })) {
        if (entry.isDirectory()) rmdirSync(join(this.base, entry.name)); // empty task cgroups; one with members throws
      }
      rmdirSync(this.base);
    } catch {
      // task cgroups left: tasks still run (they outlive the agent)
    }
  }

  private dir(taskId: string): string {
    return join(this.base, taskId);
  }

  private mountOf(): string {
    return cgroupMounts().find((m) => this.base.startsWith(`${m.dir}/`) && (this.kind === 'cgroup2') === (m.type === 'cgroup2'))?.dir ?? '';
  }
}

function cgroupMounts(): { dir: string; type: string; options: string[] }[] {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2] === 'cgroup2' || f[2] === 'cgroup')
      .map((f) => ({ dir: f[1]!, type: f[2]!, options: (f[3] ?? '').split(',') }));
  } catch {
    return [];
  }
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Processes whose environment holds ZECTRE_TASK_ID=<taskId> (root reads every /proc/<pid>/environ). */
function markedProcesses(taskId: string): number[] {
  const needle = `\0${TASK_ID_ENV}=${taskId}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (`\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(needle)) found.push(Number(entry));
    } catch {
      // exited, or not ours to read
    }
  }
  return found;
}
