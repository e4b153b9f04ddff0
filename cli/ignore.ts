/**
 * What packing leaves out, in .gitignore's full syntax (negation, directory patterns, anchoring,
 * `**`), matched by the `ignore` package (the matcher eslint and prettier use) rather than by hand.
 * Rule files are read in every directory packing enters: a file's patterns apply to paths under
 * its own directory, and a deeper file's rules win over a shallower one's, as in git. Within one
 * directory `.zectreignore` comes after `.gitignore`, so it can take back what `.gitignore` leaves
 * out (`!dist/` for a build output that is not committed but must be deployed).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore as Rules } from 'ignore';

export const IGNORE_FILE = '.zectreignore';
export const GITIGNORE_FILE = '.gitignore';

interface Level {
  /** The directory the rules were read in, relative to the app's root ('' for the root). */
  base: string;
  rules: Rules;
}

/** The rules in effect in one directory: its own and every enclosing directory's. Immutable. */
export class IgnoreRules {
  private constructor(
    private readonly files: readonly string[],
    private readonly levels: readonly Level[],
  ) {}

  /** No rules yet; `files` names the rule files read in each directory, in order. */
  static start(files: readonly string[]): IgnoreRules {
    return new IgnoreRules(files, []);
  }

  /** The rules inside directory `prefix` of `root` (relative, '' for the root): these plus its own rule files. */
  async enter(root: string, prefix: string): Promise<IgnoreRules> {
    let rules: Rules | undefined;
    for (const name of this.files) {
      const text = await readOptional(join(root, prefix, name));
      if (text !== undefined) rules = (rules ?? ignore()).add(text);
    }
    return rules ? new IgnoreRules(this.files, [...this.levels, { base: prefix, rules }]) : this;
  }

  /** Whether `path` (relative to the root, POSIX separators) is left out; the deepest rule file that decides wins. */
  ignores(path: string, isDirectory: boolean): boolean {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const { base, rules } = this.levels[i]!;
      // A trailing slash tells `ignore` it is a directory, so `build/` patterns match it and only it.
      const relative = (base ? path.slice(base.length + 1) : path) + (isDirectory ? '/' : '');
      const result = rules.test(relative);
      if (result.ignored) return true;
      if (result.unignored) return false;
    }
    return false;
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
