import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { create, type WriteEntry } from 'tar';
import { CliError } from './errors.js';
import { GITIGNORE_FILE, IGNORE_FILE, IgnoreRules } from './ignore.js';

/** Never shipped, at any depth: VCS history and Zectre's own local state. */
const EXCLUDED = new Set(['.git', '.zectre']);
/** Secrets belong in `zectre env`, never in an artifact anyone with viewer on the project can download. */
const isEnvFile = (name: string) => name === '.env' || name.startsWith('.env.');
/** Gzip's header bytes 4-7 (mtime) and 9 (OS): written as 0 and 3 (Unix) whatever zlib and the platform put there. */
const GZIP_MTIME = 4;
const GZIP_OS = 9;
const GZIP_OS_UNIX = 3;

export interface PackOptions {
  /**
   * Source for a remote build: `.gitignore` files are honoured and `node_modules` is left out
   * (the build installs it). Without it the directory is the app as it will run, so only
   * `.zectreignore` applies: `.gitignore` usually lists exactly what a prebuilt app needs at run
   * time (`node_modules/`, `dist/`).
   */
  source?: boolean;
  /** Called as the archive grows: entries and file bytes read so far, compressed bytes written. */
  onProgress?: (progress: PackProgress) => void;
}

export interface PackProgress {
  entries: number;
  bytesRead: number;
  bytesPacked: number;
}

export interface PackedArtifact {
  data: Buffer;
  /** `sha256:<hex>` of `data`, as the registry names blobs. */
  digest: string;
  size: number;
  entries: number;
}

/**
 * tar.gz of `dir`, byte-for-byte reproducible: the same names, contents, executable bits and file
 * modification times (to the second) give the same digest on any machine with the same zlib.
 * Files keep their real mtimes so a static server's Last-Modified/ETag change with the file (a
 * fixed date made browsers revalidate to 304 and keep stale content after a redeploy). The rest is
 * fixed: entries sorted, no uid/gid/user/group names, no atime/ctime, directories without mtime
 * (their mtime also moves when an ignored file appears in them), modes 0644 or 0755, gzip header
 * without time or OS.
 */
export async function packDir(dir: string, opts: PackOptions = {}): Promise<PackedArtifact> {
  const ruleFiles = opts.source ? [GITIGNORE_FILE, IGNORE_FILE] : [IGNORE_FILE];
  const excluded = opts.source ? new Set([...EXCLUDED, 'node_modules']) : EXCLUDED;
  const entries = await listEntries(dir, await IgnoreRules.start(ruleFiles).enter(dir, ''), excluded);
  if (entries.length === 0) throw new CliError(`nothing to deploy: ${dir} is empty (or everything in it is ignored)`);
  const progress: PackProgress = { entries: 0, bytesRead: 0, bytesPacked: 0 };
  // We list (sorted) entries ourselves instead of letting tar walk directories in readdir order.
  const stream = create({ cwd: dir, gzip: true, portable: true, noDirRecurse: true, onWriteEntry: normalize(progress) }, entries);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    progress.bytesPacked += (chunk as Buffer).length;
    opts.onProgress?.(progress);
  }
  const data = Buffer.concat(chunks);
  data.fill(0, GZIP_MTIME, GZIP_MTIME + 4);
  data[GZIP_OS] = GZIP_OS_UNIX;
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  return { data, digest, size: data.length, entries: entries.length };
}

/** Fixes what differs between machines for the same tree, just before tar writes each header. */
function normalize(progress: PackProgress): (entry: WriteEntry) => void {
  return (entry) => {
    const stat = entry.stat!;
    // Only "executable or not" survives: umasks and chmods differ between checkouts of the same tree.
    const executable = entry.type === 'Directory' || (stat.mode & 0o111) !== 0;
    stat.mode = (stat.mode & ~0o7777) | (executable ? 0o755 : 0o644);
    // Whole seconds: what ustar headers and HTTP dates hold; sub-second noise would change the digest for nothing.
    entry.mtime = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
    progress.entries++;
    if (entry.type === 'File') progress.bytesRead += stat.size;
  };
}

/** Relative POSIX paths of every file, link and directory under `dir`, sorted, minus excluded and ignored ones. */
async function listEntries(dir: string, rules: IgnoreRules, excluded: Set<string>, prefix = ''): Promise<string[]> {
  const dirents = await readdir(join(dir, prefix), { withFileTypes: true });
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const dirent of dirents) {
    if (excluded.has(dirent.name) || isEnvFile(dirent.name)) continue;
    const path = prefix ? `${prefix}/${dirent.name}` : dirent.name;
    if (rules.ignores(path, dirent.isDirectory())) continue;
    out.push(path);
    if (dirent.isDirectory()) out.push(...(await listEntries(dir, await rules.enter(dir, path), excluded, path)));
  }
  return out;
}
