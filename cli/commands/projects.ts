import type { Command } from 'commander';
import type { CreateProject, Project } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, table } from '../output.js';

export function registerProjects(program: Command): void {
  const projects = program.command('projects').description('create and list projects');

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
}
