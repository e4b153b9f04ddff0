/**
 * One unprivileged uid per project on this node, taken from a configured range and remembered in
 * stateDir/uids.json (0600), so a restarted agent runs a project's tasks as the same uid. The uids
 * are bare numbers (gid = uid): no passwd entry, no login shell, no home, no supplementary groups.
 * Only root can switch uids; an agent that is not root runs every task as itself.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export interface TaskUser {
  uid: number;
  gid: number;
}

const UidMap = z.record(z.string(), z.number().int());

export class TaskUsers {
  private constructor(
    /** undefined: not root, tasks run as the agent's uid */
    private readonly file: string | undefined,
    private readonly range: [number, number],
    private readonly byProject: Map<string, number>,
    /** uids of real accounts (/etc/passwd): never handed to a project */
    private readonly taken: Set<number>,
  ) {}

  /** `isolate` defaults to "the agent runs as root". */
  static open(stateDir: string, range: [number, number], isolate = process.getuid?.() === 0): TaskUsers {
    if (!isolate) return new TaskUsers(undefined, range, new Map(), new Set());
    const file = join(stateDir, 'uids.json');
    const saved = existsSync(file) ? UidMap.safeParse(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
    if (saved && !saved.success) throw new Error(`${file} is not a project -> uid map (${saved.error.message}); delete it to start over`);
    // A mapping outside the range (the range was changed) is dropped: the project gets a new uid in it.
    const entries = Object.entries(saved?.data ?? {}).filter(([, uid]) => uid >= range[0] && uid <= range[1]);
    return new TaskUsers(file, range, new Map(entries), accountUids());
  }

  /** True when tasks get their own uids (the agent is root). */
  get isolating(): boolean {
    return this.file !== undefined;
  }

  /** The uid and gid a task of `project` runs as; undefined = the agent's own (not root). */
  userFor(project: string): TaskUser | undefined {
    if (!this.file) return undefined;
    let uid = this.byProject.get(project);
    if (uid === undefined) {
      uid = this.allocate(project);
      this.byProject.set(project, uid);
      writeFileSync(`${this.file}.tmp`, JSON.stringify(Object.fromEntries(this.byProject)), { mode: 0o600 });
      renameSync(`${this.file}.tmp`, this.file);
    }
    return { uid, gid: uid };
  }

  /** The lowest uid of the range no project and no account has; uids are never reused while the state lives. */
  private allocate(project: string): number {
    const used = new Set(this.byProject.values());
    for (let uid = this.range[0]; uid <= this.range[1]; uid++) {
      if (!used.has(uid) && !this.taken.has(uid)) return uid;
    }
    throw new Error(
      `no free uid for project "${project}": all of ZECTRE_AGENT_UID_RANGE=${this.range[0]}-${this.range[1]} are taken (${used.size} projects on this node)`,
    );
  }
}

function accountUids(): Set<number> {
  try {
    return new Set(readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => Number(line.split(':')[2])).filter(Number.isInteger));
  } catch {
    return new Set();
  }
}
