import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, NotLoggedInError } from './errors.js';
import { readJsonFile } from './read-file.js';

/** A device sign-in (`zectre login`): the refresh token, where to use it, and the latest access token. */
export interface OAuthLogin {
  tokenEndpoint: string;
  revocationEndpoint: string;
  refreshToken: string;
  /** Cached so each command does not spend a refresh (every refresh rotates the refresh token). */
  accessToken?: string;
  /** Epoch milliseconds. */
  accessTokenExpiresAt?: number;
}

/** One of `token` (an API token: `zectre login --token`, CI) or `oauth` (a device sign-in). */
export interface Config {
  apiUrl: string;
  token?: string;
  oauth?: OAuthLogin;
}

const isUrl = (v: unknown) => typeof v === 'string' && URL.canParse(v);
const isText = (v: unknown) => typeof v === 'string' && v.length > 0;

function isOAuth(value: unknown): value is OAuthLogin {
  const v = value as Partial<OAuthLogin> | null;
  return (
    isUrl(v?.tokenEndpoint) && isUrl(v?.revocationEndpoint) && isText(v?.refreshToken) &&
    (v?.accessToken === undefined || isText(v.accessToken)) &&
    (v?.accessTokenExpiresAt === undefined || Number.isFinite(v.accessTokenExpiresAt))
  );
}

/** Checked by hand, not with zod: every command reads the config, and loading zod would cost each one startup time. */
function isConfig(value: unknown): value is Config {
  const v = value as Partial<Config> | null;
  return isUrl(v?.apiUrl) && (isText(v?.token) || isOAuth(v?.oauth));
}

/** Only the fields we know, in a fixed order (no stray keys carried from an older file). */
function clean(config: Config): Config {
  const out: Config = { apiUrl: config.apiUrl };
  if (config.token) out.token = config.token;
  else if (config.oauth) {
    const { tokenEndpoint, revocationEndpoint, refreshToken, accessToken, accessTokenExpiresAt } = config.oauth;
    out.oauth = { tokenEndpoint, revocationEndpoint, refreshToken, ...(accessToken ? { accessToken, accessTokenExpiresAt } : {}) };
  }
  return out;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.ZECTRE_CONFIG || join(homedir(), '.config', 'zectre', 'config.json');
}

/** Saves the CLI login; the file holds bearer secrets, so only its owner may read it. */
export async function writeConfig(path: string, config: Config): Promise<void> {
  if (!isConfig(config)) throw new CliError('a config needs an http(s) "apiUrl" and a non-empty "token" or a device sign-in');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Write-then-rename so a crash never leaves half a file (a rotated refresh token must not be lost
  // half-written); a fresh file gets the mode we ask for.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(clean(config), null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** The saved config, or null when there is none. */
export async function readConfig(path: string): Promise<Config | null> {
  const json = await readJsonFile(path, '; run `zectre login` again');
  if (json === null) return null;
  if (!isConfig(json)) throw new CliError(`${path} needs "apiUrl" and a "token" or a sign-in; run \`zectre login\` again`);
  return clean(json);
}

/** The config file with ZECTRE_API_URL / ZECTRE_TOKEN laid over it (a token in the environment wins over a saved sign-in). */
export async function resolveConfig(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const path = configPath(env);
  const saved = await readConfig(path);
  const apiUrl = env.ZECTRE_API_URL || saved?.apiUrl;
  const token = env.ZECTRE_TOKEN || saved?.token;
  if (!apiUrl) throw new NotLoggedInError(`no API URL in ${path} or ZECTRE_API_URL`);
  if (token) return { apiUrl, token };
  if (saved?.oauth) return { apiUrl, oauth: saved.oauth };
  throw new NotLoggedInError(`no sign-in or token in ${path}, and no ZECTRE_TOKEN`);
}
