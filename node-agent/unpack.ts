/** Safe extraction of an app artifact (gzip tar): every entry is checked before anything is written. */
import { mkdir, rm } from 'node:fs/promises';
import { posix } from 'node:path';

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

interface EntryInfo {
  path: string;
  type: string;
  linkpath?: string;
}

/** The first reason the archive may not be extracted into the app directory, or undefined when it is safe. */
export function archiveProblem(entries: EntryInfo[]): string | undefined {
  const symlinks = new Set(entries.filter((e) => e.type === 'SymbolicLink').map((e) => posix.normalize(e.path)));
  for (const { path, type, linkpath } of entries) {
    if (!ALLOWED_TYPES.has(type)) return `entry "${path}" has type ${type}; only files, directories and links are allowed`;
    if (posix.isAbsolute(path) || path.split('/').includes('..')) {
      return `entry "${path}" points outside the app directory (absolute path or "..")`;
    }
    if (type !== 'SymbolicLink' && type !== 'Link') continue;
    if (!linkpath) return `link "${path}" has no target`;
    if (posix.isAbsolute(linkpath)) return `link "${path}" -> "${linkpath}" has an absolute target`;
    // A symlink's target is relative to the link's directory; a hard link's to the archive root.
    const from = type === 'SymbolicLink' ? posix.dirname(path) : '.';
    const problem = resolveInside(`${from}/${linkpath}`, symlinks);
    if (problem) return `link "${path}" -> "${linkpath}" ${problem}`;
  }
  return undefined;
}

/**
 * Walks a relative path segment by segment. Plain normalisation is not enough: "a/.." is the
 * parent of a's target when a is a symlink, so ".." right after a symlink is refused too.
 */
function resolveInside(path: string, symlinks: Set<string>): string | undefined {
  const stack: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') {
      stack.push(segment);
      continue;
    }
    if (stack.length === 0) return 'points outside the app directory';
    if (symlinks.has(stack.join('/'))) return `uses ".." after the symlink "${stack.join('/')}"`;
    stack.pop();
  }
  return undefined;
}

/** Lists the archive and throws on the first unsafe entry, so a refused archive writes nothing. */
async function checkArchive(file: string): Promise<void> {
  const entries: EntryInfo[] = [];
  const tar = await loadTar();
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: ({ path, type, linkpath }) => void entries.push({ path, type, linkpath }),
    });
  } catch (err) {
    throw new UnpackError(`artifact ${file} is not a readable gzip tar: ${(err as Error).message}`);
  }
  const problem = archiveProblem(entries);
  if (problem) throw new UnpackError(`artifact ${file} refused: ${problem}`);
}

/** Loaded on the first unpack: setting tar up costs ~0.5 MB of RSS that an idle agent never needs. */
const loadTar = () => import('tar');

export class UnpackError extends Error {
  override name = 'UnpackError';
}

/** Replaces `dest` with the contents of the gzip tar at `file`. */
export async function unpack(file: string, dest: string): Promise<void> {
  await checkArchive(file);
  const tar = await loadTar();
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  try {
    // strict: any warning (a path tar would rewrite, a bad header) fails instead of being skipped.
    await tar.x({ file, cwd: dest, strict: true, preserveOwner: false });
  } catch (err) {
    throw new UnpackError(`artifact ${file} could not be unpacked into ${dest}: ${(err as Error).message}`);
  }
}
