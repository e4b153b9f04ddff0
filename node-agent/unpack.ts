/**
 * Safe extraction of an app artifact (gzip tar): the whole listing is checked (paths, links, size,
 * entry count) before anything is written, the limits are enforced again while extracting, and the
 * result belongs to the task's uid with no setuid, setgid or sticky bit.
 */
import { createReadStream } from 'node:fs';
import { chmod, lchown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Parser, ReadEntry } from 'tar';
import { archiveProblem, type EntryInfo } from './archive-check.js';

export interface UnpackLimits {
  /** Sum of the sizes of all files, as declared and as written. */
  maxBytes: number;
  /** Files, directories and links. */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 2 * 1024 ** 3, maxEntries: 100_000 };

export interface UnpackOptions {
  limits: UnpackLimits;
  /** Owner of everything extracted; absent = the agent's own uid (an agent that is not root). */
  owner?: { uid: number; gid: number };
}

export class UnpackError extends Error {
  override name = 'UnpackError';
}

/** Loaded on the first unpack: setting tar up costs ~0.5 MB of RSS that an idle agent never needs. */
const loadTar = () => import('tar');

/**
 * Counts entries and bytes against the limits; the message names the setting that raises a limit,
 * so a refused artifact says what to change.
 */
class LimitCounter {
  private entries = 0;
  private bytes = 0;
  constructor(private readonly limits: UnpackLimits) {}

  entry(): string | undefined {
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      return `it has more than ${this.limits.maxEntries} entries (limit ZECTRE_AGENT_MAX_ENTRIES=${this.limits.maxEntries})`;
    }
    return undefined;
  }

  add(bytes: number): string | undefined {
    this.bytes += bytes;
    if (this.bytes > this.limits.maxBytes) {
      return `it unpacks to more than ${this.limits.maxBytes} bytes (limit ZECTRE_AGENT_MAX_UNPACKED_BYTES=${this.limits.maxBytes})`;
    }
    return undefined;
  }
}

/** Streams the file into a tar parser (or unpacker) until it finishes, fails or is aborted. */
function feed(file: string, sink: Parser): Promise<void> {
  return new Promise((resolve, reject) => {
    const source = createReadStream(file);
    const fail = (err: Error) => {
      source.destroy();
      reject(err);
    };
    source.on('error', fail);
    sink.on('error', fail);
    sink.on('close', () => resolve());
    source.pipe(sink as unknown as NodeJS.WritableStream);
  });
}

/**
 * Lists the archive and throws on the first unsafe entry or exceeded limit, so a refused archive
 * writes nothing. Declared sizes are summed as headers arrive: a decompression bomb is stopped at
 * the header that crosses the limit, without inflating the rest.
 */
async function checkArchive(file: string, limits: UnpackLimits): Promise<void> {
  const tar = await loadTar();
  const entries: EntryInfo[] = [];
  const counter = new LimitCounter(limits);
  let exceeded: string | undefined;
  const parser: Parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      entries.push({ path: entry.path, type: entry.type, linkpath: entry.linkpath });
      exceeded ??= counter.entry() ?? counter.add(entry.size ?? 0);
      if (exceeded) parser.abort(new Error(exceeded));
      entry.resume();
    },
  });
  try {
    await feed(file, parser);
  } catch (err) {
    if (exceeded) throw new UnpackError(`artifact ${file} refused: ${exceeded}`);
    throw new UnpackError(`artifact ${file} is not a readable gzip tar: ${(err as Error).message}`);
  }
  const problem = archiveProblem(entries);
  if (problem) throw new UnpackError(`artifact ${file} refused: ${problem}`);
}

/**
 * Extracts into `dest` (which must be empty or absent), counting entries and the bytes actually
 * written against the limits again: the listing's check does not have to be trusted here.
 */
export async function extract(file: string, dest: string, limits: UnpackLimits): Promise<void> {
  const tar = await loadTar();
  const counter = new LimitCounter(limits);
  let exceeded: string | undefined;
  const stop = (problem: string | undefined) => {
    if (problem && !exceeded) {
      exceeded = problem;
      unpacker.abort(new Error(problem));
    }
  };
  const unpacker = new tar.Unpack({
    cwd: dest,
    // strict: any warning (a path tar would rewrite, a bad header) fails instead of being skipped.
    strict: true,
    preserveOwner: false,
    filter: (_path, entry) => {
      const e = entry as ReadEntry;
      // No setuid, setgid or sticky bit ever reaches the disk (tar would pass them to open/mkdir).
      if (typeof e.mode === 'number') e.mode &= 0o777;
      stop(counter.entry());
      return !exceeded;
    },
    transform: () => {
      const counting = new Transform({
        transform(chunk: Buffer, _enc, done) {
          const problem = counter.add(chunk.length);
          if (problem) {
            stop(problem);
            return done(new Error(problem));
          }
          done(null, chunk);
        },
      });
      return counting as unknown as ReadEntry; // tar only pipes through it
    },
  });
  try {
    await feed(file, unpacker);
  } catch (err) {
    if (exceeded) throw new UnpackError(`artifact ${file} refused while unpacking: ${exceeded}`);
    throw new UnpackError(`artifact ${file} could not be unpacked into ${dest}: ${(err as Error).message}`);
  }
}

/** Hands the tree to `owner` (links included, children before their directory). */
async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  const stat = await lstat(path);
  if (stat.isDirectory()) {
    for (const name of await readdir(path)) await chownTree(join(path, name), owner);
  }
  await lchown(path, owner.uid, owner.gid);
}

/**
 * Replaces `dest` with the contents of the gzip tar at `file`. `dest` ends 0700 and, with an owner,
 * belongs to it; callers put `dest` where no task can reach until the ownership is final.
 */
export async function unpack(file: string, dest: string, opts: UnpackOptions): Promise<void> {
  await checkArchive(file, opts.limits);
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true, mode: 0o700 });
  await extract(file, dest, opts.limits);
  if (opts.owner) await chownTree(dest, opts.owner);
  await chmod(dest, 0o700);
}
