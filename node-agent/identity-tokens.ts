/**
 * Workload identity on the node (docs/identity.md): each task starts with its catalog token in
 * ZECTRE_IDENTITY_TOKEN and finds the current one in ZECTRE_IDENTITY_TOKEN_FILE, which this module
 * rewrites at about half of every token's lifetime. Tokens come in batches, one request for all of
 * the node's tasks per renewal (and one per group of tasks starting together), never per heartbeat.
 *
 * A control plane that cannot be reached never holds a task back: it starts without the env var
 * (the agent's log says so) and its file appears once a renewal gets through.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IDENTITY_TOKEN_ENV, MAX_IDENTITY_BATCH, type IdentityTokensRequest, type IdentityTokensResponse } from '../protocol/index.js';
import { Backoff } from './backoff.js';
import { HttpError, postJson } from './http-json.js';
import type { TaskUser } from './task-users.js';

export interface IdentityTask {
  id: string;
  /** The token file, directly in the task's own directory. */
  file: string;
  /** Who the file belongs to (absent: the agent's uid). */
  owner: TaskUser | undefined;
}

interface Entry extends IdentityTask {
  token?: string;
  /** When the agent (its own clock) should ask for the next one: half the lifetime after receipt. */
  renewAt: number;
  /** When the token expires, by the agent's clock (counted from the request, so never later than by the issuer's). */
  expiresAt: number;
}

/** A request (and a start waiting for its token) takes at most this long; then the task starts without. */
const REQUEST_TIMEOUT_MS = 5_000;
/** However short the tokens, renewals do not come closer together than this. */
const MIN_RENEW_MS = 2_000;

export class IdentityTokens {
  private readonly tasks = new Map<string, Entry>();
  /** Ids to ask for in the next request; a request in flight takes all there are when it starts. */
  private readonly wanted = new Set<string>();
  private draining: Promise<void> | undefined;
  /** Starts waiting for the request that carries their task's id. */
  private readonly waiters = new Map<string, (() => void)[]>();
  private timer: NodeJS.Timeout | undefined;
  private timerPending = false;
  private readonly backoff = new Backoff(1_000, 60_000, true);
  /** The last request failed: starts do not wait for the control plane until one succeeds. */
  private failing = false;
  private stopped = false;

  constructor(
    private readonly opts: {
      apiUrl: string;
      nodeId: () => string;
      credential: () => string;
      log: (msg: string) => void;
    },
  ) {}

  /**
   * Before a task's process (re)starts: its current token, asked for when it has none worth handing
   * out; undefined when the control plane could not give one. Either way the task is renewed from
   * now on and its file written whenever a token arrives.
   */
  async forStart(task: IdentityTask): Promise<string | undefined> {
    const entry = this.track(task);
    // A restart after a crash: the same token while it is fresh, or while the control plane is away and
    // it is still valid, and its file again in case the app removed it.
    if (entry.token && Date.now() < (this.failing ? entry.expiresAt : entry.renewAt)) {
      await this.write(entry, entry.token);
      return entry.token;
    }
    if (this.failing) {
      if (!this.timerPending) this.scheduleNext(); // the retry asks for this task too
      this.opts.log(`task ${task.id}: starting without ${IDENTITY_TOKEN_ENV}: the control plane did not answer the last token request; its token file is written once it does`);
      return undefined;
    }
    this.wanted.add(task.id);
    const answered = new Promise<boolean>((resolve) => this.waiters.set(task.id, [...(this.waiters.get(task.id) ?? []), () => resolve(false)]));
    void this.drain();
    const timedOut = await Promise.race([answered, new Promise<boolean>((r) => setTimeout(r, REQUEST_TIMEOUT_MS, true).unref())]);
    const token = this.tasks.get(task.id)?.token;
    if (!token) {
      const why = timedOut ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : 'the control plane gave none (see above)';
      this.opts.log(`task ${task.id}: starting without ${IDENTITY_TOKEN_ENV}: ${why}; its token file is written once a token arrives`);
    }
    return token;
  }

  /** A process re-adopted after an agent restart: its token is renewed at once (its lifetime is unknown). */
  adopt(task: IdentityTask): void {
    this.track(task);
    this.schedule(0);
  }

  /** The task stopped for good: no more renewals. */
  forget(taskId: string): void {
    this.tasks.delete(taskId);
    this.wanted.delete(taskId);
    this.settle([taskId]);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.settle([...this.waiters.keys()]);
  }

  private settle(ids: string[]): void {
    for (const id of ids) {
      for (const resolve of this.waiters.get(id) ?? []) resolve();
      this.waiters.delete(id);
    }
  }

  private track(task: IdentityTask): Entry {
    let entry = this.tasks.get(task.id);
    if (!entry) {
      entry = { ...task, renewAt: 0, expiresAt: 0 };
      this.tasks.set(task.id, entry);
    }
    entry.file = task.file;
    entry.owner = task.owner;
    return entry;
  }

  /** One request at a time; ids wanted meanwhile go in the next. */
  private drain(): Promise<void> {
    // `finally` runs after the assignment even when there was nothing to ask for (no stale promise stays).
    this.draining ??= this.askForWanted().finally(() => {
      this.draining = undefined;
      if (this.wanted.size && !this.stopped) void this.drain(); // wanted after the last request left
      else this.scheduleNext();
    });
    return this.draining;
  }

  private async askForWanted(): Promise<void> {
    while (this.wanted.size && !this.stopped) {
      const ids = [...this.wanted];
      this.wanted.clear();
      const known = ids.filter((id) => this.tasks.has(id));
      await this.request(known).catch((err: Error) => {
        this.failing = true; // an answer not as expected: retried like an unreachable control plane
        this.opts.log(`identity tokens for ${known.length} task(s) not renewed: ${err.message}; retrying (tasks keep running)`);
      });
      this.settle(ids);
    }
  }

  private async request(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += MAX_IDENTITY_BATCH) {
      const batch = ids.slice(i, i + MAX_IDENTITY_BATCH);
      const body: IdentityTokensRequest = { taskIds: batch };
      const url = `${this.opts.apiUrl}/scheduler/v1/nodes/${encodeURIComponent(this.opts.nodeId())}/identity-tokens`;
      const started = Date.now();
      let answer: IdentityTokensResponse;
      try {
        answer = await postJson<IdentityTokensResponse>(url, this.opts.credential(), body, REQUEST_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof HttpError && err.status === 404) {
          // None of them is meant to run here any more: the next desired state removes them.
          for (const id of batch) this.refuse(id, 'not a task meant to run on this node now');
          continue;
        }
        this.failing = true;
        this.opts.log(`identity tokens for ${batch.length} task(s) not renewed: ${(err as Error).message}; retrying (tasks keep running)`);
        continue;
      }
      this.failing = false;
      this.backoff.reset();
      // Renewal at half the lifetime, timed by this node's clock: it may differ from the control plane's.
      const renewAt = started + Math.max(MIN_RENEW_MS, (answer.expiresInS * 1000) / 2);
      for (const [id, token] of Object.entries(answer.tokens)) {
        const entry = this.tasks.get(id);
        if (!entry) continue;
        entry.token = token;
        entry.renewAt = renewAt;
        entry.expiresAt = started + answer.expiresInS * 1000;
        await this.write(entry, token);
      }
      for (const [id, why] of Object.entries(answer.refused)) this.refuse(id, why);
    }
  }

  private write(entry: Entry, token: string): Promise<void> {
    return writeTokenFile(entry.file, token, entry.owner).catch((err: Error) =>
      this.opts.log(`task ${entry.id}: identity token file ${entry.file} not written: ${err.message}`),
    );
  }

  private refuse(id: string, why: string): void {
    if (this.tasks.delete(id)) this.opts.log(`task ${id}: no identity token: ${why}`);
  }

  /** All tasks are renewed together when the first is due, so a node sends one request per period. */
  private scheduleNext(): void {
    if (this.stopped || !this.tasks.size) return;
    const tokenless = [...this.tasks.values()].some((e) => !e.token);
    if (this.failing) return this.schedule(this.backoff.next());
    const due = Math.min(...[...this.tasks.values()].map((e) => e.renewAt));
    this.schedule(tokenless ? this.backoff.next() : Math.max(0, due - Date.now()));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timerPending = true;
    this.timer = setTimeout(() => {
      this.timerPending = false;
      // Due: every task (they stay in step); otherwise only those a failed request left without a token.
      const entries = [...this.tasks.values()];
      // (A timer may fire a millisecond before Date.now() reaches its time.)
      const due = entries.some((e) => e.token && e.renewAt <= Date.now() + 100);
      for (const e of entries) if (due || !e.token) this.wanted.add(e.id);
      void this.drain();
    }, delayMs);
    this.timer.unref();
  }
}

/**
 * Writes the token where only the task's uid reads it, atomically (a reader sees the old token or
 * the new one, never half of one). The agent may be root writing into a directory the task owns: the
 * temporary file is created new (O_EXCL, O_NOFOLLOW), so no link the task placed is followed, and the
 * rename replaces whatever sits at the final name without following it either.
 */
export async function writeTokenFile(path: string, token: string, owner: TaskUser | undefined): Promise<void> {
  const temp = join(dirname(path), `.zectre-identity-${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o400);
  try {
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.writeFile(token);
    await handle.close();
    await rename(temp, path);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
}
