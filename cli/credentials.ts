import { open, rm, stat } from 'node:fs/promises';
import { readConfig, writeConfig, type Config, type OAuthLogin } from './config.js';
import { CliError, NotLoggedInError } from './errors.js';
import { refreshTokens } from './oauth-client.js';

/** What the API client asks for a bearer token, and again when one was refused as expired. */
export interface Credentials {
  accessToken(): Promise<string>;
  /** A fresh token after `rejected` was refused (401 token_expired). */
  renew(rejected: string): Promise<string>;
}

/** Refreshed this long before the access token expires, so a request never leaves with one about to lapse. */
const EARLY_MS = 60_000;
/** A lock older than this was left by a crashed process (a refresh takes one request). */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 20_000;

const fresh = (o: OAuthLogin | undefined): o is OAuthLogin & { accessToken: string } =>
  !!o?.accessToken && (o.accessTokenExpiresAt ?? 0) - Date.now() > EARLY_MS;

/**
 * A device sign-in's tokens, refreshed by themselves. Every refresh rotates the refresh token and a
 * spent one presented again revokes the sign-in, so two zectre commands must never refresh with the
 * same one: refreshes take a lock file next to the config and re-read it first (the other command
 * may have refreshed already), and the rotated token is saved atomically before it is used.
 */
export class RefreshingCredentials implements Credentials {
  constructor(
    private readonly path: string,
    private config: Config & { oauth: OAuthLogin },
  ) {}

  async accessToken(): Promise<string> {
    const o = this.config.oauth;
    return fresh(o) ? o.accessToken : this.renew(o.accessToken ?? '');
  }

  renew(rejected: string): Promise<string> {
    return withLock(`${this.path}.lock`, async () => {
      const disk = await readConfig(this.path);
      if (!disk?.oauth) throw new NotLoggedInError(`the sign-in in ${this.path} was removed (zectre logout?)`);
      if (fresh(disk.oauth) && disk.oauth.accessToken !== rejected) {
        this.config = { ...disk, oauth: disk.oauth };
        return disk.oauth.accessToken;
      }
      const answer = await refreshTokens(disk.apiUrl, disk.oauth.tokenEndpoint, disk.oauth.refreshToken);
      const next = {
        ...disk,
        oauth: { ...disk.oauth, refreshToken: answer.refresh_token, accessToken: answer.access_token, accessTokenExpiresAt: Date.now() + answer.expires_in * 1000 },
      };
      await writeConfig(this.path, next);
      this.config = next;
      return answer.access_token;
    });
  }
}

async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(path, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const since = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (since > STALE_LOCK_MS) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new CliError(`another zectre command is refreshing the sign-in (${path} exists); remove that file if none is running`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
