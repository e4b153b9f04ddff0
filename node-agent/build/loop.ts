/**
 * A builder's work loop: while idle, ask the edge for a queued build (POST .../builds/claim) every
 * `pollMs`; run it; ask again. One build at a time. Only builder-labelled agents run it, so nodes
 * without the label never ask and never build.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { removeWorkRoot } from '../workspace.js';
import type { ClaimResponse } from '../../protocol/index.js';
import { HttpError, postJson } from '../http-json.js';
import { BuildRun, type RunnerDeps } from './runner.js';
import { procStat, signalGroup } from '../process-group.js';

export class BuildLoop {
  private running = false;
  private current: BuildRun | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly nodeId: () => string,
    private readonly pollMs: number,
  ) {}

  async start(): Promise<void> {
    // A build cut off by an agent crash left its processes and directory: the edge fails such a
    // build at the next claim, so nothing of it is worth keeping.
    const killed = killProcessesUnder(this.deps.buildRoot);
    if (killed) this.deps.log(`builder: killed ${killed} process group(s) of builds cut off by a restart`);
    await removeWorkRoot(this.deps.buildRoot, this.deps.log);
    await mkdir(this.deps.buildRoot, { recursive: true, mode: 0o711 });
    await chmod(this.deps.buildRoot, 0o711);
    this.running = true;
    this.loop = this.work();
    this.deps.log(`builder: taking builds (one at a time) into ${this.deps.buildRoot}`);
  }

  /** Kills a running build (its outcome is reported as failed by the edge once its lease lapses, or at the next claim). */
  async stop(): Promise<void> {
    this.running = false;
    this.current?.abort('stopped');
    this.wake?.();
    await this.loop;
  }

  private async work(): Promise<void> {
    while (this.running) {
      let claimed: ClaimResponse | undefined;
      try {
        claimed = await postJson<ClaimResponse>(`${this.deps.apiUrl}/scheduler/v1/nodes/${this.nodeId()}/builds/claim`, this.deps.credential(), {});
      } catch (err) {
        if (err instanceof HttpError && err.status === 403) {
          this.deps.log(`builder: ${err.message}; not taking builds (the label is set at registration: re-register this node)`);
          return;
        }
        this.deps.log(`builder: claim failed: ${(err as Error).message}`);
      }
      if (claimed?.build && this.running) {
        this.deps.log(`builder: build ${claimed.build.id} of ${claimed.build.project}`);
        this.current = new BuildRun(claimed.build, this.deps);
        await this.current.run().catch((err: Error) => this.deps.log(`builder: build ${claimed!.build!.id} crashed: ${err.message}`));
        this.current = undefined;
        continue; // ask again at once: more may be queued
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** SIGKILLs every process group with a process whose working directory is under `root`; returns how many. */
function killProcessesUnder(root: string): number {
  const groups = new Set<number>();
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (!readlinkSync(`/proc/${pid}/cwd`).startsWith(`${root}/`)) continue;
    } catch {
      continue; // exited while we looked, or not ours to read
    }
    const group = procStat(Number(pid))?.pgrp;
    if (group !== undefined) groups.add(group);
  }
  for (const group of groups) signalGroup(group, 'SIGKILL');
  return groups.size;
}
