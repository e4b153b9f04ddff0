/**
 * What survives an agent restart: per task, tasks/<id>/task.json (the spec without its env values,
 * pid, process start time, restarts, last health), written atomically (temp + rename), 0600 in the root-only
 * state directory. Env values never reach the disk: a restarted agent gets them again with the
 * desired state (see TaskSet.restore).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TaskSpec } from '../protocol/index.js';

/** A task spec as stored: everything but the env values. */
export const StoredSpec = TaskSpec.omit({ env: true });
export type StoredSpec = z.infer<typeof StoredSpec>;

export const TaskRecord = z.object({
  spec: StoredSpec,
  restarts: z.number().int().min(0),
  pid: z.number().int().optional(),
  startTime: z.number().int().optional(),
  /** The process's last health-check result: a re-adopted task keeps it (and stays routable) until a check says otherwise. */
  health: z.enum(['starting', 'healthy', 'unhealthy']).optional(),
  /** The artifact digest unpacked into the task's directory: a restarted agent starts the task from it without unpacking again. */
  unpacked: z.string().optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

export function saveTaskRecord(taskDir: string, record: TaskRecord): void {
  mkdirSync(taskDir, { recursive: true, mode: 0o700 });
  const path = join(taskDir, 'task.json');
  writeFileSync(`${path}.tmp`, JSON.stringify(TaskRecord.parse(record)), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/**
 * Every task directory under stateDir/tasks: its record when it has a valid one. A record written
 * by an older agent, with env values in it, is rewritten without them.
 */
export function loadTaskDirs(stateDir: string, log: (msg: string) => void): { id: string; dir: string; record?: TaskRecord }[] {
  const root = join(stateDir, 'tasks');
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => {
    const dir = join(root, id);
    const file = join(dir, 'task.json');
    if (!existsSync(file)) return { id, dir };
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { spec?: { env?: unknown } };
    const parsed = TaskRecord.safeParse(raw);
    if (!parsed.success) {
      log(`ignoring ${file}: ${parsed.error.message}`);
      return { id, dir };
    }
    if (raw.spec?.env !== undefined) saveTaskRecord(dir, parsed.data);
    return { id, dir, record: parsed.data };
  });
}
