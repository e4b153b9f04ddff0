import type { Command } from 'commander';
import type { Deployment } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples, printJson, shortDigest, table } from '../output.js';

export function registerDeployments(program: Command): void {
  const deployments = program.command('deployments').description("a project's releases");
  deployments
    .command('list')
    .description("list a project's deployments, newest first")
    .argument('<project>', 'project name')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre deployments list hello', 'zectre deployments list hello --json'))
    .action(async (project: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ deployments: Deployment[] }>(`/api/v1/projects/${encodeURIComponent(project)}/deployments`);
      if (opts.json) return printJson(answer);
      if (answer.deployments.length === 0) {
        console.log(`no deployments of ${project} yet; run \`zectre deploy DIR --project ${project}\``);
        return;
      }
      const rows = answer.deployments.map((d) => {
        const healthy = d.tasks.filter((t) => t.desiredState === 'running' && t.observedState === 'healthy').length;
        return [d.id, d.status, `${healthy}/${d.replicas}`, shortDigest(d.artifact), d.createdAt, d.statusReason ?? ''];
      });
      console.log(table(['DEPLOYMENT', 'STATUS', 'HEALTHY', 'ARTIFACT', 'CREATED', 'REASON'], rows));
    });
}
