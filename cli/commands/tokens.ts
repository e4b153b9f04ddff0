import { InvalidArgumentError, type Command } from 'commander';
import type { ApiTokenView, CreateApiToken, CreatedApiToken, CreatedJoinToken, CreateJoinToken } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, table } from '../output.js';

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('API tokens for CI and scripts (the secret is shown once)');

  tokens
    .command('create')
    .description('create an API token of yours, for every project you can reach or for one')
    .argument('<name>', 'what it is for, e.g. ci')
    .option('--project <name>', 'limit the token to this project')
    .option('--json', 'print JSON (includes the secret)')
    .addHelpText('after', examples('zectre tokens create ci --project hello'))
    .action(async (name: string, opts: { project?: string; json?: boolean }) => {
      const client = await clientFromConfig();
      const body: CreateApiToken = { name, ...(opts.project ? { project: opts.project } : {}) };
      const answer = await client.post<CreatedApiToken>('/api/v1/tokens', body);
      if (opts.json) return printJson(answer);
      console.log(`created token ${answer.token.id} (${answer.token.name}, ${answer.token.project ? `project ${answer.token.project}` : 'global'})`);
      console.log(answer.secret);
      console.error('this is the only time the secret is shown; store it now');
    });

  tokens
    .command('list')
    .description('list your API tokens (never their secrets)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre tokens list --json'))
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ tokens: ApiTokenView[] }>('/api/v1/tokens');
      if (opts.json) return printJson(answer);
      const rows = answer.tokens.map((t) => [t.id, t.name, t.project ?? '(global)', t.createdAt, t.revokedAt ? `revoked ${t.revokedAt}` : 'active']);
      console.log(table(['ID', 'NAME', 'PROJECT', 'CREATED', 'STATE'], rows));
    });

  tokens
    .command('revoke')
    .description('revoke one of your API tokens; it stops working at once')
    .argument('<id>', 'token id (see `zectre tokens list`)')
    .addHelpText('after', examples('zectre tokens revoke k1234abcd5678'))
    .action(async (id: string) => {
      const client = await clientFromConfig();
      const answer = await client.delete<{ token: ApiTokenView }>(`/api/v1/tokens/${encodeURIComponent(id)}`);
      console.log(`revoked token ${answer.token.id} (${answer.token.name})`);
    });
}

export function registerJoinTokens(program: Command): void {
  const joinTokens = program.command('join-tokens').description('secrets new nodes register with (admin)');
  joinTokens
    .command('create')
    .description('create a join token; start an agent with ZECTRE_JOIN_TOKEN set to it')
    .option('--expires-in <hours>', 'lifetime in hours (default 24)', parseHours)
    .option('--single-use', 'the token registers one node only')
    .option('--json', 'print JSON (includes the secret)')
    .addHelpText('after', examples('zectre join-tokens create --expires-in 1 --single-use'))
    .action(async (opts: { expiresIn?: number; singleUse?: boolean; json?: boolean }) => {
      const client = await clientFromConfig();
      const body: CreateJoinToken = {
        ...(opts.expiresIn ? { expiresInSeconds: Math.round(opts.expiresIn * 3600) } : {}),
        ...(opts.singleUse ? { singleUse: true } : {}),
      };
      const answer = await client.post<CreatedJoinToken>('/api/v1/join-tokens', body);
      if (opts.json) return printJson(answer);
      console.log(answer.secret);
      console.error(`join token ${answer.id}, valid until ${answer.expiresAt}${answer.singleUse ? ' for one node' : ''}; shown only now. On the new machine: curl -fsSL ${client.apiUrl}/install.sh | sh -s -- --join-token <it> --address <its private IP>`);
    });
}

function parseHours(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 / 60 || n > 720) throw new InvalidArgumentError('expected hours, from 0.017 (one minute) to 720');
  return n;
}
