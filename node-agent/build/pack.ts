/**
 * The build's output as a reproducible tar.gz, by the rules of cli/pack.ts (which the agent must not
 * import): entries sorted, modes 0644/0755, no owners, gzip header without time or OS. Times: a file
 * the source carried unchanged keeps its mtime from the source; anything the build wrote or changed
 * gets the source's newest mtime (its "source epoch", as SOURCE_DATE_EPOCH does), so the same source
 * and lockfile give the same digest, yet a changed source moves Last-Modified.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { create, type WriteEntry } from 'tar';

const GZIP_MTIME = 4;
const GZIP_OS = 9;
const GZIP_OS_UNIX = 3;

/** Whole-second mtimes of the source's files, by relative path, taken right after unpacking. */
export type SourceTimes = Map<string, number>;

export async function sourceTimes(dir: string): Promise<{ times: SourceTimes; epoch: number }> {
  const times: SourceTimes = new Map();
  let epoch = 0;
  for (const path of await listTree(dir)) {
    const s = await lstat(join(dir, path));
    if (s.isDirectory()) continue;
    const t = Math.floor(s.mtimeMs / 1000);
    times.set(path, t);
    epoch = Math.max(epoch, t);
  }
  return { times, epoch };
}

export async function packTree(dir: string, times: SourceTimes, epoch: number): Promise<{ data: Buffer; digest: string }> {
  const entries = await listTree(dir);
  const stream = create({ cwd: dir, gzip: true, portable: true, noDirRecurse: true, onWriteEntry: normalize(times, epoch) }, entries);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  data.fill(0, GZIP_MTIME, GZIP_MTIME + 4);
  data[GZIP_OS] = GZIP_OS_UNIX;
  return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` };
}

function normalize(times: SourceTimes, epoch: number): (entry: WriteEntry) => void {
  return (entry) => {
    const stat = entry.stat!;
    const executable = entry.type === 'Directory' || (stat.mode & 0o111) !== 0;
    stat.mode = (stat.mode & ~0o7777) | (executable ? 0o755 : 0o644);
    const now = Math.floor(stat.mtimeMs / 1000);
    const path = entry.path.replace(/\/$/, '');
    entry.mtime = new Date((times.get(path) === now ? now : epoch) * 1000);
  };
}

/** Relative POSIX paths under `dir`, sorted by name at every level, directories before their contents. */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const dirents = await readdir(join(dir, prefix), { withFileTypes: true });
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const d of dirents) {
    const path = prefix ? `${prefix}/${d.name}` : d.name;
    out.push(path);
    if (d.isDirectory()) out.push(...(await listTree(dir, path)));
  }
  return out;
}
