import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from 'tar';
import { CliError } from './errors.js';
import { readIgnore, type Ignore } from './ignore.js';

/** Never shipped: VCS history and Zectre's own local state (and whatever `.zectreignore` lists). */
const EXCLUDED = new Set(['.git', '.zectre']);
/** Every entry gets this mtime so the same tree always packs to the same bytes (and digest). */
const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

export interface PackedArtifact {
  data: Buffer;
  /** `sha256:<hex>` of `data`, as the registry names blobs. */
  digest: string;
  size: number;
  entries: number;
}

/** tar.gz of `dir`, byte-for-byte reproducible for the same file names, contents and modes. */
export async function packDir(dir: string): Promise<PackedArtifact> {
  const entries = await listEntries(dir, await readIgnore(dir));
  if (entries.length === 0) throw new CliError(`nothing to deploy: ${dir} is empty`);
  // We list (sorted) entries ourselves instead of letting tar walk directories in readdir order.
  const stream = create({ cwd: dir, gzip: true, portable: true, mtime: FIXED_MTIME, noDirRecurse: true }, entries);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  return { data, digest, size: data.length, entries: entries.length };
}

/** Relative POSIX paths of every file, link and directory under `dir`, sorted, minus EXCLUDED and ignored ones. */
async function listEntries(dir: string, ignore: Ignore, prefix = ''): Promise<string[]> {
  const dirents = await readdir(join(dir, prefix), { withFileTypes: true });
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const dirent of dirents) {
    if (EXCLUDED.has(dirent.name)) continue;
    const path = prefix ? `${prefix}/${dirent.name}` : dirent.name;
    if (ignore(path, dirent.isDirectory())) continue;
    out.push(path);
    if (dirent.isDirectory()) out.push(...(await listEntries(dir, ignore, path)));
  }
  return out;
}
