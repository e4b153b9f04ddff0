/**
 * `.zectreignore` at the app's root: paths left out of the artifact, in a small subset of
 * .gitignore's syntax: one pattern a line, `#` comments, `*` and `?` within a name, `**` across
 * directories, a trailing `/` for directories only, and a `/` at the start or in the middle to
 * anchor the pattern at the root (else it matches a name at any depth). No `!` negation.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from './errors.js';

export const IGNORE_FILE = '.zectreignore';

export type Ignore = (path: string, isDirectory: boolean) => boolean;

export async function readIgnore(dir: string): Promise<Ignore> {
  let text: string;
  try {
    text = await readFile(join(dir, IGNORE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return () => false;
    throw err;
  }
  return parseIgnore(text);
}

export function parseIgnore(text: string): Ignore {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      if (line.startsWith('!')) throw new CliError(`${IGNORE_FILE} line "${line}": negation (!) is not supported; list only what to leave out`);
      const dirOnly = line.endsWith('/');
      const body = line.replace(/^\//, '').replace(/\/$/, '');
      const anchored = line.slice(0, -1).includes('/');
      // Unanchored: the name at any depth. Packing does not enter a left-out directory, so all under it goes too.
      const regex = new RegExp(`^${anchored ? '' : '(?:.*/)?'}${globToRegex(body)}$`);
      return { regex, dirOnly };
    });
  return (path, isDirectory) => rules.some((r) => (!r.dirOnly || isDirectory) && r.regex.test(path));
}

function globToRegex(glob: string): string {
  const segments = glob.split('/');
  return segments
    .map((s, i) => {
      const last = i === segments.length - 1;
      if (s === '**') return last ? '.*' : '(?:.*/)?'; // `a/**/b` also matches `a/b`
      const name = s.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
      return last ? name : `${name}/`;
    })
    .join('');
}
