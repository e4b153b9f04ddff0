import { readFile } from 'node:fs/promises';
import { CliError } from './errors.js';

/** A file's text, or null when it does not exist. */
export async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A JSON file parsed, or null when it does not exist; `hint` follows the error when it is not JSON. */
export async function readJsonFile(path: string, hint = ''): Promise<unknown> {
  const text = await readOptional(path);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON${hint}`);
  }
}
