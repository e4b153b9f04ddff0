/** Tasks run in their own process group, so the agent can stop a task and everything it forked. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export type TaskProcess = ChildProcessByStdio<null, Readable, Readable>;

/** `detached` makes the shell a process-group leader: its pid is the group id, and the agent's own signals don't reach it. */
export function spawnInGroup(command: string, cwd: string, env: Record<string, string>): TaskProcess {
  return spawn('/bin/sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after "(comm)": state ppid pgrp ...; comm may contain spaces, so split after the last ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
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
