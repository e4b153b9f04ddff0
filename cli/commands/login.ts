import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { configPath, readConfig, writeConfig } from '../config.js';
import { CliError, UsageError } from '../errors.js';
import { discover, oauthPost, revokeRefreshToken } from '../oauth-client.js';
import { examples } from '../output.js';
import { CLI_CLIENT_ID, DEVICE_CODE_GRANT, type DeviceAuthorization, type TokenAnswer, type Whoami } from '../../protocol/index.js';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('sign in to a Zectre control plane: approve a code in the dashboard (or check and save an API token with --token)')
    .option('--api <url>', 'control plane URL (default: the saved one, or ZECTRE_API_URL)', parseUrl)
    .option('--token <token>', 'an API token instead of the browser sign-in (CI, scripts)')
    .option('--no-browser', 'only print the URL; do not try to open a browser')
    .addHelpText(
      'after',
      examples('zectre login --api https://zectre.example.com', 'zectre login --api https://zectre.example.com --no-browser', 'zectre login --api https://zectre.example.com --token zt_abc123'),
    )
    .action(async (opts: { api?: string; token?: string; browser: boolean }) => {
      const path = configPath();
      const apiUrl = opts.api ?? process.env.ZECTRE_API_URL ?? (await readConfig(path).catch(() => null))?.apiUrl;
      if (!apiUrl) throw new UsageError('which control plane? pass --api URL (e.g. https://zectre.example.com)');
      if (opts.token) return tokenLogin(path, apiUrl, opts.token);
      return deviceLogin(path, apiUrl, opts.browser);
    });
}

async function tokenLogin(path: string, apiUrl: string, token: string): Promise<void> {
  const client = new ApiClient(apiUrl, token);
  const { user } = await client.get<Whoami>('/api/v1/whoami');
  await writeConfig(path, { apiUrl: client.apiUrl, token });
  console.log(`logged in to ${client.apiUrl} as ${user.name}${user.isAdmin ? ' (admin)' : ''}; saved to ${path}`);
}

/** RFC 8628: a code for a person to approve in the dashboard, polled for until approved, denied or expired. */
async function deviceLogin(path: string, rawUrl: string, browser: boolean): Promise<void> {
  const apiUrl = rawUrl.replace(/\/+$/, '');
  const catalog = await discover(apiUrl);
  const started = await oauthPost<DeviceAuthorization>(catalog.device_authorization_endpoint, {
    client_id: CLI_CLIENT_ID,
    client_name: `zectre CLI on ${hostname()}`.slice(0, 200),
  });
  if (!started.ok) throw new CliError(`the sign-in could not start: ${started.description} (${started.error})`);
  const device = started.body;
  console.log(`To sign in, open ${device.verification_uri} and enter the code\n\n    ${device.user_code}\n\nor open ${device.verification_uri_complete}`);
  if (browser) openBrowser(device.verification_uri_complete);

  const deadline = Date.now() + device.expires_in * 1000;
  const waiting = waitingLine(deadline);
  let interval = device.interval || 5;
  let tokens: TokenAnswer;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, interval * 1000));
      waiting.update();
      const poll = await oauthPost<TokenAnswer>(catalog.token_endpoint, { grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: CLI_CLIENT_ID });
      if (poll.ok) {
        tokens = poll.body;
        break;
      }
      if (poll.error === 'authorization_pending') continue;
      if (poll.error === 'slow_down') {
        interval += 5;
        continue;
      }
      if (poll.error === 'expired_token') throw new CliError(`code ${device.user_code} expired before anyone approved it; run \`zectre login\` again`);
      if (poll.error === 'access_denied') throw new CliError(`the sign-in with code ${device.user_code} was denied in the dashboard`, 3, 'access_denied');
      throw new CliError(`the sign-in failed: ${poll.description} (${poll.error})`);
    }
  } finally {
    waiting.done();
  }
  const previous = await readConfig(path).catch(() => null);
  await writeConfig(path, {
    apiUrl,
    oauth: {
      tokenEndpoint: catalog.token_endpoint,
      revocationEndpoint: catalog.revocation_endpoint,
      refreshToken: tokens.refresh_token,
      accessToken: tokens.access_token,
      accessTokenExpiresAt: Date.now() + tokens.expires_in * 1000,
    },
  });
  // The sign-in this one replaces would otherwise stay valid, unused, for 30 days.
  if (previous?.oauth) await revokeRefreshToken(previous.oauth.revocationEndpoint, previous.oauth.refreshToken).catch(() => {});
  const { user } = await new ApiClient(apiUrl, tokens.access_token).get<Whoami>('/api/v1/whoami');
  console.log(`logged in to ${apiUrl} as ${user.name}${user.isAdmin ? ' (admin)' : ''}; saved to ${path}`);
}

/** One line saying what we wait for; on a terminal it counts down in place. */
function waitingLine(deadline: number): { update(): void; done(): void } {
  const tty = process.stderr.isTTY;
  const text = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    return `waiting for the code to be approved in the browser (expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')})…`;
  };
  process.stderr.write(tty ? text() : `${text()}\n`);
  return {
    update: () => tty && process.stderr.write(`\r${text()}`),
    done: () => tty && process.stderr.write('\n'),
  };
}

/** Best effort: a desktop's browser; on Linux only with a display (xdg-open would otherwise start a text browser here). */
function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'linux' && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) ? 'xdg-open' : null;
  if (!command) return;
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No browser: the URL is printed above.
  }
}

function parseUrl(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new InvalidArgumentError('expected an http(s) URL');
  return value;
}
