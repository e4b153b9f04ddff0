/**
 * The last routes loaded, kept on disk (issue 14 point 8): a proxy that starts while the database
 * is unreachable serves them instead of failing, until the database answers. Written after every
 * load that changed the epoch, atomically (a temporary file renamed over the old one), 0600 in a
 * 0700 directory: it names every app's hosts and backend addresses. Custom domains' certificates
 * are kept the same way, next to them (acme/certs.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RouteRows } from './route-queries.js';

const VERSION = 1;

export interface Saved<T> {
  rows: T;
  savedAt: string;
}

/** `<dir>/<what>-<hash>.json`, its latest rows. */
export class Snapshot<T> {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();
  private next: T | null = null;

  /**
   * One file per database and apps domain (a hash of both names it), so proxies of different
   * stacks sharing a state directory never serve each other's routes.
   */
  constructor(
    readonly dir: string,
    private readonly what: string,
    databaseUrl: string,
    appsDomain: string,
  ) {
    const key = createHash('sha256').update(`${databaseUrl}\n${appsDomain}`).digest('hex').slice(0, 16);
    this.file = join(dir, `${what}-${key}.json`);
  }

  /** The saved rows, or null when there are none (or they cannot be read: then the reason is thrown). */
  load(): Saved<T> | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const saved = JSON.parse(text) as { version: number; savedAt: string; rows: T };
    if (saved.version !== VERSION) return null;
    return { rows: saved.rows, savedAt: saved.savedAt };
  }

  /** Saves in the background; writes never overlap and only the newest pending rows are written. */
  save(rows: T, log: (m: string) => void): void {
    const idle = this.next === null;
    this.next = rows;
    if (!idle) return;
    this.writing = this.writing.then(async () => {
      const latest = this.next!;
      this.next = null;
      try {
        await this.write(latest);
      } catch (err) {
        log(`cannot save the ${this.what} to ${this.file}: ${(err as Error).message}`);
      }
    });
  }

  /** Resolves once every save asked for so far is on disk. */
  flushed(): Promise<void> {
    return this.writing;
  }

  private async write(rows: T): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ version: VERSION, savedAt: new Date().toISOString(), rows }), { mode: 0o600 });
    await rename(tmp, this.file);
  }
}

export class RouteSnapshot extends Snapshot<RouteRows> {
  constructor(dir: string, databaseUrl: string, appsDomain: string) {
    super(dir, 'routes', databaseUrl, appsDomain);
  }
}

/** Where main.ts keeps state unless ZECTRE_PROXY_STATE_DIR says otherwise. */
export function defaultStateDir(home: string): string {
  return process.getuid?.() === 0 ? '/var/lib/zectre/proxy' : join(home, '.zectre', 'proxy');
}
