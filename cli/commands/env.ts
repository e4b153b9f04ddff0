import type { Command } from 'commander';
import type { EnvVar, SetEnv } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { parseEnvPair } from '../env-pairs.js';
import { UsageError } from '../errors.js';
import { examples, printJson, table } from '../output.js';

const envPath = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}/env`;

export function registerEnv(program: Command): void {
  const env = program.command('env').description("manage a project's env vars (used by its next deployment)");

  env
    .command('set')
    .description('set one or more env vars')
    .argument('<project>', 'project name')
    .argument('<pairs...>', 'KEY=VALUE')
    .addHelpText('after', examples('zectre env set hello HELLO_VERSION=2 GREETING="hi there"'))
    .action(async (project: string, pairs: string[]) => {
      const vars: SetEnv['vars'] = {};
      for (const pair of pairs) {
        try {
          const [key, value] = parseEnvPair(pair);
          vars[key] = value;
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      }
      const client = await clientFromConfig();
      const body: SetEnv = { vars };
      const answer = await client.put<{ vars: EnvVar[] }>(envPath(project), body);
      console.log(`set ${answer.vars.map((v) => v.key).join(', ')} on ${project}; the next deployment gets them`);
    });

  env
    .command('list')
    .description('list env var names (and values with --reveal)')
    .argument('<project>', 'project name')
    .option('--reveal', 'also print the values (project owners only)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre env list hello --reveal'))
    .action(async (project: string, opts: { reveal?: boolean; json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ vars: EnvVar[] }>(`${envPath(project)}${opts.reveal ? '?reveal=true' : ''}`);
      if (opts.json) return printJson(answer);
      if (answer.vars.length === 0) {
        console.log(`no env vars on ${project}`);
        return;
      }
      const rows = answer.vars.map((v) => (opts.reveal ? [v.key, v.updatedAt, v.value ?? ''] : [v.key, v.updatedAt]));
      console.log(table(opts.reveal ? ['KEY', 'UPDATED', 'VALUE'] : ['KEY', 'UPDATED'], rows));
    });

  env
    .command('unset')
    .description('remove one or more env vars')
    .argument('<project>', 'project name')
    .argument('<keys...>', 'env var names')
    .addHelpText('after', examples('zectre env unset hello HELLO_VERSION'))
    .action(async (project: string, keys: string[]) => {
      const client = await clientFromConfig();
      for (const key of keys) {
        await client.delete<{ deleted: string }>(`${envPath(project)}/${encodeURIComponent(key)}`);
        console.log(`unset ${key} on ${project}`);
      }
    });
}
