/**
 * Task directories: <root>/<task id>, the unpacked artifact, the task's cwd and HOME, 0700 and owned
 * by the task's uid. <root> is root-owned 0711: a task reaches its own directory by name but cannot
 * list the others. It lies outside the agent's state directory (0700), which no task can enter.
 *
 * Root never works inside a tree a task can write to: an artifact is unpacked and handed to the
 * task's uid in a staging directory no task can reach, then renamed into place, and a task's tree is
 * deleted by a process running as its owner (so a symlink swapped in mid-delete gains nothing).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from './env-config.js';
import type { TaskUser } from './task-users.js';
import { unpack, type UnpackLimits } from './unpack.js';

const run = promisify(execFile);

export class Workspace {
  private constructor(
    readonly root: string,
    private readonly limits: UnpackLimits,
  ) {}

  /**
   * Creates (or checks) the work root. With `isolating`, every directory above it must let other
   * uids pass (o+x), or no task could reach its own directory.
   */
  static async open(root: string, limits: UnpackLimits, opts: { stateDir: string; isolating: boolean }): Promise<Workspace> {
    const dir = resolve(root);
    const state = resolve(opts.stateDir);
    if (inside(dir, state) || inside(state, dir)) {
      throw new ConfigError(`ZECTRE_AGENT_WORK_DIR=${dir} and the state directory ${state} must not contain one another: tasks may enter the first, never the second`);
    }
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const s = await lstat(dir);
    const me = process.getuid?.() ?? s.uid;
    if (!s.isDirectory() || s.uid !== me) {
      throw new ConfigError(`ZECTRE_AGENT_WORK_DIR=${dir} must be a directory owned by the agent (uid ${me}); it is ${s.isDirectory() ? `owned by uid ${s.uid}` : 'not a directory'}`);
    }
    await chmod(dir, 0o711);
    if (opts.isolating) {
      for (let up = dirname(dir); ; up = dirname(up)) {
        if (((await stat(up)).mode & 0o001) === 0) {
          throw new ConfigError(`ZECTRE_AGENT_WORK_DIR=${dir} is out of reach of task uids: ${up} does not let others pass (chmod o+x it, or choose another directory)`);
        }
        if (up === dirname(up)) break;
      }
    }
    return new Workspace(dir, limits);
  }

  taskDir(taskId: string): string {
    return join(this.root, taskId);
  }

  /** Replaces the task's directory with the unpacked artifact, owned by `owner` (absent: the agent's uid). */
  async install(taskId: string, artifact: string, owner: TaskUser | undefined): Promise<void> {
    const staging = join(this.root, `.unpack-${taskId}-${randomBytes(4).toString('hex')}`);
    try {
      await unpack(artifact, staging, { limits: this.limits, ...(owner ? { owner } : {}) });
      const dest = this.taskDir(taskId);
      const old = join(this.root, `.old-${taskId}-${randomBytes(4).toString('hex')}`);
      const replaced = await rename(dest, old).then(
        () => true,
        (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
      );
      await rename(staging, dest);
      if (replaced) await removeTree(old);
    } catch (err) {
      await removeTree(staging).catch(() => undefined);
      throw err;
    }
  }

  /** True when the task's directory exists and belongs to `owner` (absent: the agent's uid), as install left it. */
  async installed(taskId: string, owner: TaskUser | undefined): Promise<boolean> {
    const s = await lstat(this.taskDir(taskId)).catch(() => undefined);
    return !!s && s.isDirectory() && s.uid === (owner?.uid ?? process.getuid?.() ?? s.uid);
  }

  async remove(taskId: string): Promise<void> {
    await removeTree(this.taskDir(taskId));
  }

  /**
   * Deletes every entry but those of `keep` (tasks removed while the agent was down, interrupted
   * unpacks). The listing is taken synchronously, before the call returns: entries made afterwards
   * (a task started meanwhile) are never swept.
   */
  sweep(keep: Set<string>, log: (msg: string) => void): Promise<void> {
    const stale = readdirSync(this.root).filter((name) => !keep.has(name));
    return (async () => {
      for (const name of stale) {
        await removeTree(join(this.root, name)).catch((err: Error) => log(`could not remove ${join(this.root, name)}: ${err.message}`));
      }
    })();
  }
}

/** Empties and removes a work root whose tasks are stopped (each tree deleted as its owner); a later start unpacks them again. */
export async function removeWorkRoot(root: string, log: (msg: string) => void): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    await removeTree(join(root, name)).catch((err: Error) => log(`could not remove ${join(root, name)}: ${err.message}`));
  }
  await rmdir(root).catch(() => undefined); // not empty: what is left was logged above
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

/**
 * rm -rf, as the tree's owner when that is another uid: its contents go with `find -delete` run as
 * that uid (after making its own directories writable: Go's module cache, for one, is read-only),
 * then root removes the now empty directory from the root-owned work root.
 */
export async function removeTree(path: string): Promise<void> {
  const s = await lstat(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  if (!s) return;
  const me = process.getuid?.();
  if (me === undefined || s.uid === me || !s.isDirectory()) {
    await rm(path, { recursive: true, force: true });
    return;
  }
  const script = 'chmod -R u+rwX -- "$1" 2>/dev/null; exec find "$1" -mindepth 1 -delete';
  await run('/bin/sh', ['-c', script, 'sh', path], { uid: s.uid, gid: s.gid, cwd: '/' });
  await rmdir(path);
}
