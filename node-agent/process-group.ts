/** Tasks run in their own process group, so the agent can stop a task and everything it forked. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type TaskProcess = ChildProcess;

/**
 * `detached` makes the shell a process-group leader: its pid is the group id, and the agent's own
 * signals don't reach it. stdout/stderr go to files (not pipes), so the task outlives the agent
 * without ever getting EPIPE; the files are the agent's (0600): the task holds only the descriptors.
 * stdin is closed. With `user`, the process runs as that uid/gid with no supplementary groups
 * (Node's spawn calls setgroups(0) before setgid/setuid).
 */
export function spawnInGroup(
  command: string,
  cwd: string,
  env: Record<string, string>,
  out: { stdout: string; stderr: string },
  user?: { uid: number; gid: number },
  /** A cgroup the agent moves the process into right after spawn: the shell waits for that before it runs `command`. */
  cgroup?: string,
): TaskProcess {
  const fds = [openSync(out.stdout, 'a', 0o600), openSync(out.stderr, 'a', 0o600)];
  // /proc/self/cgroup lines: "0::<path>" (v2), "<n>:freezer:<path>" (v1). Ids and paths hold no regex characters.
  const args = cgroup
    ? ['-c', 'until grep -Eq "^[0-9]+:(freezer)?:$1\$" /proc/self/cgroup; do :; done; exec /bin/sh -c "$2"', 'zectre-task', cgroup, command]
    : ['-c', command];
  try {
    return spawn('/bin/sh', args, { cwd, env, detached: true, stdio: ['ignore', fds[0], fds[1]], ...user });
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

export interface ProcStat {
  state: string;
  pgrp: number;
  /** Clock ticks since boot when the process started: with the pid, identifies one process for good. */
  startTime: number;
  /** user + system CPU time in clock ticks */
  cpuTicks: number;
  rssPages: number;
}

/** Parsed /proc/<pid>/stat, or undefined when the process does not exist. */
export function procStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after "(comm)" start at field 3 (state); comm may contain spaces, so split after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, pgrp: Number(f[2]), cpuTicks: Number(f[11]) + Number(f[12]), startTime: Number(f[19]), rssPages: Number(f[21]) };
}

/** True while the very process (pid + start time) still runs; a recycled pid has another start time. */
export function sameProcessAlive(pid: number, startTime: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === startTime;
}

/** Sends a signal to every process in the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * Live (non-zombie) members of a process group. Zombies are skipped: an orphaned child whose
 * reaper is slow still answers kill(0), but it holds no port and runs no code.
 */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return signalGroup(pgid, 0) ? [pgid] : []; // no /proc: fall back to kill(0)
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry)); // undefined: it exited while we looked
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') members.push(Number(entry));
  }
  return members;
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupMembers(pgid).length > 0) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

/** SIGTERM the group, give it killTimeoutMs to exit, then SIGKILL whatever is left. */
export async function killGroup(pgid: number, killTimeoutMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, killTimeoutMs)) return;
  signalGroup(pgid, 'SIGKILL');
  if (!(await waitGroupGone(pgid, 5_000))) {
    throw new Error(`process group ${pgid} still has members ${groupMembers(pgid).join(',')} 5 s after SIGKILL`);
  }
}
