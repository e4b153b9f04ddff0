/**
 * Per-task CPU and memory: usage sampled from /proc per process group, limits through cgroup v2
 * when the agent is given a delegated cgroup directory, else an RSS watchdog (see README).
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '../protocol/index.js';
import { procStat } from './process-group.js';

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux architecture Node supports
const PAGE_BYTES = 4096;

export interface GroupUsage {
  cpuTicks: number;
  rssBytes: number;
}

/** One pass over /proc: CPU ticks and RSS summed per process group. */
export function usageByGroup(): Map<number, GroupUsage> {
  const usage = new Map<number, GroupUsage>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return usage;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat || stat.state === 'Z') continue;
    const u = usage.get(stat.pgrp) ?? { cpuTicks: 0, rssBytes: 0 };
    u.cpuTicks += stat.cpuTicks;
    u.rssBytes += stat.rssPages * PAGE_BYTES;
    usage.set(stat.pgrp, u);
  }
  return usage;
}

/** Turns successive cumulative CPU samples of one task into millicores. */
export class CpuMeter {
  private last: { ticks: number; at: number } | undefined;

  sample(ticks: number, now = Date.now()): number | undefined {
    const prev = this.last;
    this.last = { ticks, at: now };
    if (!prev || now <= prev.at || ticks < prev.ticks) return undefined;
    return Math.round(((ticks - prev.ticks) / CLOCK_TICKS_PER_S / ((now - prev.at) / 1000)) * 1000);
  }

  reset(): void {
    this.last = undefined;
  }
}

/**
 * cgroup v2 limits under a directory the agent may write (e.g. a systemd unit with Delegate=yes).
 * memory.max = memoryMb; cpu.weight proportional to cpuMillis (100 per core, range 1-10000).
 */
export class CgroupLimiter {
  /** oom_kill counts already reported, per task. */
  private readonly oomKills = new Map<string, number>();

  constructor(private readonly root: string) {}

  /** Puts pid (the group leader, before it forks) into the task's cgroup; throws with the reason if it cannot. */
  enter(taskId: string, pid: number, resources: Resources): void {
    const dir = join(this.root, taskId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'memory.max'), String(resources.memoryMb * 1024 * 1024));
    writeFileSync(join(dir, 'cpu.weight'), String(Math.min(10_000, Math.max(1, Math.round(resources.cpuMillis / 10)))));
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }

  /** After a SIGKILL: the message when the kernel killed the task for its memory.max (memory.events counts oom_kill). */
  memoryKill(taskId: string, limitMb: number): string | undefined {
    let kills = 0;
    try {
      kills = Number(/oom_kill (\d+)/.exec(readFileSync(join(this.root, taskId, 'memory.events'), 'utf8'))?.[1] ?? 0);
    } catch {
      return undefined; // no memory controller here: not a kill for memory
    }
    if (kills <= (this.oomKills.get(taskId) ?? 0)) return undefined;
    this.oomKills.set(taskId, kills);
    return `killed: memory reached its ${limitMb} MB limit (out of memory)`;
  }

  remove(taskId: string): void {
    try {
      rmdirSync(join(this.root, taskId));
    } catch {
      // still has members or never created
    }
  }
}
