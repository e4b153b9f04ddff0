import type { Command } from 'commander';
import type { CreateProject, Project } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { confirmByTyping } from '../confirm.js';
import { CliError } from '../errors.js';
import { examples, printJson, table } from '../output.js';

export function registerProjects(program: Command): void {
  const projects = program.command('projects').description('create, list and delete projects');

  projects
    .command('create')
    .description('create a project (its name is also its host name)')
    .argument('<name>', 'lowercase letters, digits and single dashes')
    .addHelpText('after', examples('zectre projects create hello'))
    .action(async (name: string) => {
      const client = await clientFromConfig();
      const body: CreateProject = { name };
      const project = await client.post<Project>('/api/v1/projects', body);
      console.log(`created project ${project.name}: ${project.urls.app}`);
    });

  projects
    .command('list')
    .description('list projects')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre projects list', 'zectre projects list --json'))
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ projects: Project[] }>('/api/v1/projects');
      if (opts.json) return printJson(answer);
      if (answer.projects.length === 0) {
        console.log('no projects yet; create one with `zectre projects create NAME`');
        return;
      }
      const rows = answer.projects.map((p) => [p.name, p.liveDeploymentId ?? '-', p.createdAt, p.urls.app]);
      console.log(table(['NAME', 'LIVE DEPLOYMENT', 'CREATED', 'URL'], rows));
    });

  projects
    .command('delete')
    .description("delete a project: stops its tasks, removes its routes, deletes its releases, env and logs")
    .argument('<name>', 'project name')
    .option('-y, --yes', 'do not ask for confirmation')
    .addHelpText('after', examples('zectre projects delete hello --yes'))
    .action(async (name: string, opts: { yes?: boolean }) => {
      const client = await clientFromConfig();
      if (!opts.yes && !(await confirmByTyping(`This deletes project ${name}, stops its apps and removes its URLs.`, name))) {
        throw new CliError('not deleted: the name did not match', 1, 'not_confirmed');
      }
      const answer = await client.delete<{ deleted: string; stoppedOn: string[] }>(`/api/v1/projects/${encodeURIComponent(name)}`);
      console.log(`deleted project ${answer.deleted}; its tasks are stopping on ${answer.stoppedOn.length} node(s)`);
    });
}
