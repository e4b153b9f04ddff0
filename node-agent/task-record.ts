/**
 * What survives an agent restart: per task, tasks/<id>/task.json (spec, pid, process start time,
 * restarts); per node, state.json (the generation applied). Written atomically (temp + rename).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TaskSpec } from '../protocol/index.js';

export const TaskRecord = z.object({
  spec: TaskSpec,
  restarts: z.number().int().min(0),
  pid: z.number().int().optional(),
  startTime: z.number().int().optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

function writeAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value), { mode: 0o600 }); // specs carry secret env values
  renameSync(`${path}.tmp`, path);
}

export function saveTaskRecord(taskDir: string, record: TaskRecord): void {
  mkdirSync(taskDir, { recursive: true });
  writeAtomic(join(taskDir, 'task.json'), record);
}

/** Every task directory under stateDir/tasks: its record when it has a valid one. */
export function loadTaskDirs(stateDir: string, log: (msg: string) => void): { id: string; dir: string; record?: TaskRecord }[] {
  const root = join(stateDir, 'tasks');
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => {
    const dir = join(root, id);
    const file = join(dir, 'task.json');
    if (!existsSync(file)) return { id, dir };
    const parsed = TaskRecord.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) log(`ignoring ${file}: ${parsed.error.message}`);
    return { id, dir, record: parsed.success ? parsed.data : undefined };
  });
}

const NodeState = z.object({ nodeId: z.string(), generation: z.number().int().min(0) });

/** The generation applied, for the node it was applied on (a new identity starts from 0). */
export function loadGeneration(stateDir: string, nodeId: string): number {
  const file = join(stateDir, 'state.json');
  if (!existsSync(file)) return 0;
  const parsed = NodeState.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success && parsed.data.nodeId === nodeId ? parsed.data.generation : 0;
}

export function saveGeneration(stateDir: string, nodeId: string, generation: number): void {
  mkdirSync(stateDir, { recursive: true });
  writeAtomic(join(stateDir, 'state.json'), { nodeId, generation });
}
