import type { Command } from 'commander';
import type { RotatedKeys } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson } from '../output.js';

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('operate the control plane itself (admins only)');

  admin
    .command('rotate-keys')
    .description('rotate the catalog signing keys: the published next key starts signing; tokens signed before keep working until they expire')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre admin rotate-keys'))
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const rotated = await client.post<RotatedKeys>('/api/v1/admin/catalog-keys/rotate', {});
      if (opts.json) return printJson(rotated);
      console.log(`signing with key ${rotated.current}; published ${rotated.next} as the next key (the previous key stays published until its tokens expire)`);
    });
}
