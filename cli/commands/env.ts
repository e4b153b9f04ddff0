import type { Command } from 'commander';
import type { EnvChangeAnswer, EnvVar, SetEnv, UnsetEnv } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import { checkEnv, splitEnvPair } from '../env-pairs.js';
import { UsageError } from '../errors.js';
import { examples, printJson, table, WAIT_FOR_CAPACITY_HELP } from '../output.js';

const envPath = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}/env`;

interface ChangeOptions {
  wait?: boolean;
}

export function registerEnv(program: Command): void {
  const env = program
    .command('env')
    .description("manage a project's env vars; a change starts a new release of the live deployment, as on Heroku");

  env
    .command('set')
    .description('set one or more env vars (creates a new release)')
    .argument('<project>', 'project name')
    .argument('<pairs...>', 'KEY=VALUE')
    .option('--wait', WAIT_FOR_CAPACITY_HELP)
    .option('--no-wait', 'do not wait for the new release to go live')
    .addHelpText('after', examples('zectre env set hello HELLO_VERSION=2 GREETING="hi there"'))
    .action(async (project: string, pairs: string[], opts: ChangeOptions) => {
      const vars: SetEnv['vars'] = {};
      for (const pair of pairs) {
        try {
          const [key, value] = splitEnvPair(pair);
          vars[key] = value;
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
      }
      await checkEnv(vars);
      const client = await clientFromConfig();
      const body: SetEnv = { vars };
      const answer = await client.put<{ vars: EnvVar[]; release: EnvChangeAnswer['release'] }>(envPath(project), body);
      console.log(`set ${answer.vars.map((v) => v.key).join(', ')} on ${project}`);
      await followRelease(client, project, answer.release, opts);
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
    .description('remove one or more env vars (creates one new release)')
    .argument('<project>', 'project name')
    .argument('<keys...>', 'env var names')
    .option('--wait', WAIT_FOR_CAPACITY_HELP)
    .option('--no-wait', 'do not wait for the new release to go live')
    .addHelpText('after', examples('zectre env unset hello HELLO_VERSION'))
    .action(async (project: string, keys: string[], opts: ChangeOptions) => {
      const client = await clientFromConfig();
      const body: UnsetEnv = { keys };
      const answer = await client.post<EnvChangeAnswer>(`${envPath(project)}/unset`, body);
      console.log(`unset ${answer.keys.join(', ')} on ${project}`);
      await followRelease(client, project, answer.release, opts);
    });
}

/** Says which release the change started (Heroku-style), then waits for it like a deploy. */
async function followRelease(client: ApiClient, project: string, release: EnvChangeAnswer['release'], opts: ChangeOptions): Promise<void> {
  const say = (line: string) => console.log(line);
  if (!release) {
    say(`${project} has nothing live; the next deployment gets the change`);
    return;
  }
  say(`created release ${release.id} with the new env`);
  if (opts.wait === false) return;
  const { finishRelease, watchDeployment } = await import('../rollout.js'); // not at startup: it loads the progress bars
  const final = await watchDeployment(client, release, say, { bars: Boolean(process.stderr.isTTY), capacity: opts.wait ? 'wait' : 'fail' });
  await finishRelease(client, final, say);
}
