/**
 * Frees the bytes of a task's raw stdout/stderr file that are already in its redacted spool, so
 * unredacted app output does not stay on disk. The app holds the file open in append mode and may
 * write at any moment, so the file can be neither truncated nor rotated without losing lines;
 * punching a hole (fallocate(2) FALLOC_FL_PUNCH_HOLE) frees [0, offset) and leaves the offsets, and
 * everything after them, as they are. Node has no fallocate binding: util-linux's `fallocate` runs
 * it, at most once a second per task.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Set once punching failed (no `fallocate`, a filesystem without hole punching): the reason. */
let unsupported: string | undefined;

export function discardUnsupported(): string | undefined {
  return unsupported;
}

/** Frees (reads back as zeros) the first `length` bytes of `path`. */
export async function punchHole(path: string, length: number): Promise<void> {
  if (unsupported || length <= 0) return;
  try {
    await run('fallocate', ['--punch-hole', '--offset', '0', '--length', String(length), path]);
  } catch (err) {
    const e = err as Error & { stderr?: string; code?: string };
    if (e.code === 'ENOENT' && !e.stderr) {
      unsupported = 'the fallocate command is not installed (util-linux)';
    } else if (/not supported/i.test(e.stderr ?? '')) {
      unsupported = `the filesystem of ${path} cannot punch holes`;
    } else {
      throw new Error(`fallocate --punch-hole on ${path} failed: ${(e.stderr ?? e.message).trim()}`);
    }
    console.error(`[agent] WARNING: raw task output cannot be discarded once spooled: ${unsupported}; it stays on disk (root-only) until its task is removed`);
  }
}
