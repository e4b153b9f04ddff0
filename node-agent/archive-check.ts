/**
 * Whether an artifact's entry list is safe to extract into an empty app directory: a pure check of
 * paths and link targets, run on the complete listing before anything is written.
 */
import { posix } from 'node:path';

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

export interface EntryInfo {
  path: string;
  type: string;
  linkpath?: string;
}

/**
 * A path as a list of segments: "a/", "./a" and "a//" are all ["a"]. posix.normalize keeps a
 * trailing slash ("a/" stays "a/"), which once let a symlink named "a/" escape the check below.
 */
function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '' && s !== '.');
}

/** The first reason the archive may not be extracted into the app directory, or undefined when it is safe. */
export function archiveProblem(entries: EntryInfo[]): string | undefined {
  const symlinks = new Set(entries.filter((e) => e.type === 'SymbolicLink').map((e) => segments(e.path).join('/')));
  for (const { path, type, linkpath } of entries) {
    if (!ALLOWED_TYPES.has(type)) return `entry "${path}" has type ${type}; only files, directories and links are allowed`;
    const parts = segments(path);
    if (posix.isAbsolute(path) || parts.includes('..')) {
      return `entry "${path}" points outside the app directory (absolute path or "..")`;
    }
    const through = throughSymlink(parts.slice(0, -1), symlinks);
    if (through) return `entry "${path}" would be written through the symlink "${through}"`;
    if (type !== 'SymbolicLink' && type !== 'Link') continue;
    if (!linkpath) return `link "${path}" has no target`;
    if (posix.isAbsolute(linkpath)) return `link "${path}" -> "${linkpath}" has an absolute target`;
    // A symlink's target is relative to the link's directory; a hard link's to the archive root.
    const from = type === 'SymbolicLink' ? parts.slice(0, -1) : [];
    const problem = resolveInside([...from, ...linkpath.split('/')], symlinks);
    if (problem) return `link "${path}" -> "${linkpath}" ${problem}`;
    // A hard link to a symlink is a second symlink the set above does not know by its name.
    if (type === 'Link' && symlinks.has(segments(linkpath).join('/'))) return `hard link "${path}" -> "${linkpath}" points at a symlink`;
  }
  return undefined;
}

/** The first proper prefix of `dirs` that is a symlink, if any. */
function throughSymlink(dirs: string[], symlinks: Set<string>): string | undefined {
  for (let i = 1; i <= dirs.length; i++) {
    const prefix = dirs.slice(0, i).join('/');
    if (symlinks.has(prefix)) return prefix;
  }
  return undefined;
}

/**
 * Walks a relative path segment by segment. Plain normalisation is not enough: once the walk has
 * passed a symlink, the lexical path no longer says where it is ("d/l/.." is the parent of l's
 * target, wherever d pointed), so any ".." after a symlink, however far back, is refused.
 */
function resolveInside(path: string[], symlinks: Set<string>): string | undefined {
  const stack: string[] = [];
  let passed: string | undefined; // the first symlink on the walk so far
  for (const segment of path) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') {
      stack.push(segment);
      if (!passed && symlinks.has(stack.join('/'))) passed = stack.join('/');
      continue;
    }
    if (passed) return `uses ".." after the symlink "${passed}"`;
    if (stack.length === 0) return 'points outside the app directory';
    stack.pop();
  }
  return undefined;
}
