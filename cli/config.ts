import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, NotLoggedInError } from './errors.js';

export interface Config {
  apiUrl: string;
  token: string;
}

/** Checked by hand, not with zod: every command reads the config, and loading zod would cost each one startup time. */
function isConfig(value: unknown): value is Config {
  const v = value as Partial<Config> | null;
  return typeof v?.apiUrl === 'string' && URL.canParse(v.apiUrl) && typeof v.token === 'string' && v.token.length > 0;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ZECTRE_CONFIG || join(homedir(), '.config', 'zectre', 'config.json');
}

/** Saves the CLI login; the file holds a bearer token, so only its owner may read it. */
export async function writeConfig(path: string, config: Config): Promise<void> {
  if (!isConfig(config)) throw new CliError('a config needs an http(s) "apiUrl" and a non-empty "token"');
  const valid: Config = { apiUrl: config.apiUrl, token: config.token };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Write-then-rename so a crash never leaves half a file; a fresh file gets the mode we ask for.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** The saved config, or null when there is none. */
export async function readConfig(path: string): Promise<Config | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON; run \`zectre login\` again`);
  }
  if (!isConfig(json)) throw new CliError(`${path} needs "apiUrl" and "token"; run \`zectre login\` again`);
  return { apiUrl: json.apiUrl, token: json.token };
}

/** The config file with ZECTRE_API_URL / ZECTRE_TOKEN laid over it. */
export async function resolveConfig(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const path = configPath(env);
  const saved = await readConfig(path);
  const apiUrl = env.ZECTRE_API_URL || saved?.apiUrl;
  const token = env.ZECTRE_TOKEN || saved?.token;
  if (!apiUrl) throw new NotLoggedInError(`no API URL in ${path} or ZECTRE_API_URL`);
  if (!token) throw new NotLoggedInError(`no token in ${path} or ZECTRE_TOKEN`);
  return { apiUrl, token };
}
