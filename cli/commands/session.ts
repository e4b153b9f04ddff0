import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { clientFromConfig } from '../api-client.js';
import { configPath, readConfig } from '../config.js';
import { examples, printJson } from '../output.js';
import type { Whoami } from '../../protocol/index.js';

export function registerSession(program: Command): void {
  program
    .command('logout')
    .description('forget the saved API URL and token (the token itself stays valid; revoke it with `zectre tokens revoke`)')
    .addHelpText('after', examples('zectre logout'))
    .action(async () => {
      const path = configPath();
      const saved = await readConfig(path).catch(() => null);
      await rm(path, { force: true });
      console.log(saved ? `logged out of ${saved.apiUrl}; removed ${path}` : `not logged in (no ${path})`);
    });

  program
    .command('whoami')
    .description('show which user the current token belongs to, and where')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre whoami', 'zectre whoami --json'))
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<Whoami>('/api/v1/whoami');
      if (opts.json) return printJson({ ...answer, apiUrl: client.apiUrl });
      console.log(`${answer.user.name}${answer.user.isAdmin ? ' (admin)' : ''} at ${client.apiUrl}`);
    });
}
