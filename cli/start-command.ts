import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from './errors.js';

/** `zectre.json` at the app's root: how to start it and where to check its health. */
const ZectreJson = z.object({
  command: z.string().min(1).optional(),
  healthcheck: z.object({ path: z.string().startsWith('/') }).partial().optional(),
});

export interface StartCommand {
  command: string;
  /** Only set when zectre.json names one; the server's default ('/') applies otherwise. */
  healthCheckPath?: string;
  /** Where the command came from, to tell the user. */
  source: '--cmd' | 'zectre.json' | 'Procfile' | 'default';
}

/** --cmd, else zectre.json's command, else the Procfile's `web:` line, else `npm start`. */
export async function detectStartCommand(dir: string, override?: string): Promise<StartCommand> {
  const zectreJson = await readZectreJson(dir);
  const healthCheckPath = zectreJson?.healthcheck?.path;
  const withHealth = (command: string, source: StartCommand['source']): StartCommand =>
    healthCheckPath === undefined ? { command, source } : { command, source, healthCheckPath };

  if (override) return withHealth(override, '--cmd');
  if (zectreJson?.command) return withHealth(zectreJson.command, 'zectre.json');
  const web = await procfileWeb(dir);
  if (web) return withHealth(web, 'Procfile');
  return withHealth('npm start', 'default');
}

async function readZectreJson(dir: string): Promise<z.infer<typeof ZectreJson> | null> {
  const path = join(dir, 'zectre.json');
  const text = await readOptional(path);
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON`);
  }
  const parsed = ZectreJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${path}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

async function procfileWeb(dir: string): Promise<string | null> {
  const text = await readOptional(join(dir, 'Procfile'));
  const match = text?.match(/^web:[ \t]*(.+)$/m);
  return match?.[1]?.trim() || null;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
