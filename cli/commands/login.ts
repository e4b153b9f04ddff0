import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient } from '../api-client.js';
import { configPath, writeConfig } from '../config.js';
import { examples } from '../output.js';
import type { Whoami } from '../../protocol/index.js';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check an API token against a Zectre control plane and save both for later commands')
    .requiredOption('--api <url>', 'control plane URL', parseUrl)
    .requiredOption('--token <token>', 'API token')
    .addHelpText('after', examples('zectre login --api https://zectre.example.com --token zt_abc123'))
    .action(async (opts: { api: string; token: string }) => {
      const client = new ApiClient(opts.api, opts.token);
      const { user } = await client.get<Whoami>('/api/v1/whoami');
      const path = configPath();
      await writeConfig(path, { apiUrl: client.apiUrl, token: opts.token });
      console.log(`logged in to ${client.apiUrl} as ${user.name}${user.isAdmin ? ' (admin)' : ''}; saved to ${path}`);
    });
}

function parseUrl(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new InvalidArgumentError('expected an http(s) URL');
  return value;
}
