import type { Command } from 'commander';
import type { DisabledUser, UserView } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, table } from '../output.js';

const userPath = (ref: string, action: string) => `/api/v1/users/${encodeURIComponent(ref)}/${action}`;

export function registerUsers(program: Command): void {
  const users = program.command('users').description('the people of this Zectre (admin)');

  users
    .command('list')
    .description('every user: admin or not, disabled or not, and their projects')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre users list'))
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ users: UserView[] }>('/api/v1/users');
      if (opts.json) return printJson(answer);
      const rows = answer.users.map((u) => [
        u.name,
        u.id,
        u.isAdmin ? 'admin' : '',
        u.disabledAt ? `disabled ${u.disabledAt}` : 'active',
        u.projects.map((p) => `${p.project} (${p.role})`).join(', '),
      ]);
      console.log(table(['NAME', 'ID', 'ADMIN', 'STATE', 'PROJECTS'], rows));
    });

  users
    .command('disable')
    .description("stop USER at once: revokes their API tokens and sessions and their pending invites; memberships stay")
    .argument('<user>', 'user name or id')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre users disable ada'))
    .action(async (ref: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.post<DisabledUser>(userPath(ref, 'disable'), {});
      if (opts.json) return printJson(answer);
      console.log(`disabled ${answer.user.name}: ${answer.tokensRevoked} token(s) revoked, ${answer.sessionsEnded} session(s) ended, ${answer.invitesRevoked} invite(s) revoked`);
    });

  users
    .command('enable')
    .description('let a disabled USER act again (with new credentials: their old tokens stay revoked)')
    .argument('<user>', 'user name or id')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre users enable ada'))
    .action(async (ref: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.post<{ user: UserView }>(userPath(ref, 'enable'), {});
      if (opts.json) return printJson(answer);
      console.log(`enabled ${answer.user.name}`);
    });
}
