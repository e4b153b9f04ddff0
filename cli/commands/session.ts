import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { clientFromConfig } from '../api-client.js';
import { configPath, readConfig } from '../config.js';
import { revokeRefreshToken } from '../oauth-client.js';
import { examples, printJson } from '../output.js';
import type { Whoami } from '../../protocol/index.js';

export function registerSession(program: Command): void {
  program
    .command('logout')
    .description('end the device sign-in (revoked at the control plane) and forget the saved URL and credentials; an API token saved with --token stays valid (revoke it with `zectre tokens revoke`)')
    .addHelpText('after', examples('zectre logout'))
    .action(async () => {
      const path = configPath();
      const saved = await readConfig(path).catch(() => null);
      let revoked = '';
      if (saved?.oauth) {
        try {
          await revokeRefreshToken(saved.oauth.revocationEndpoint, saved.oauth.refreshToken);
          revoked = ' and ended the sign-in';
        } catch (err) {
          process.stderr.write(`warning: the sign-in could not be revoked (${(err as Error).message}); it ends by itself after 30 days unused\n`);
        }
      }
      await rm(path, { force: true });
      console.log(saved ? `logged out of ${saved.apiUrl}${revoked}; removed ${path}` : `not logged in (no ${path})`);
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
