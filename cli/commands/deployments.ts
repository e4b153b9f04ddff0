import type { Command } from 'commander';
import type { Deployment } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { buildByDeployment, buildsOf, undeployedBuilds } from '../build-status.js';
import { examples, printJson, shortDigest, table } from '../output.js';
import { BUILD_HEADERS, buildRow } from './builds.js';

export function registerDeployments(program: Command): void {
  const deployments = program.command('deployments').description("a project's releases");
  deployments
    .command('list')
    .description("list a project's deployments, newest first, and its builds in progress or failed since")
    .argument('<project>', 'project name')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre deployments list hello', 'zectre deployments list hello --json'))
    .action(async (project: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const [answer, builds] = await Promise.all([
        client.get<{ deployments: Deployment[] }>(`/api/v1/projects/${encodeURIComponent(project)}/deployments`),
        buildsOf(client, project),
      ]);
      const pending = undeployedBuilds(builds, answer.deployments);
      if (opts.json) return printJson({ ...answer, builds: pending });
      if (pending.length > 0) {
        console.log(`builds without a deployment (zectre builds logs ID shows one)\n${table(BUILD_HEADERS, pending.map(buildRow))}\n`);
      }
      if (answer.deployments.length === 0) {
        console.log(`no deployments of ${project} yet; run \`zectre deploy DIR --project ${project}\``);
        return;
      }
      const fromBuild = buildByDeployment(builds);
      const rows = answer.deployments.map((d) => {
        const healthy = d.tasks.filter((t) => t.desiredState === 'running' && t.observedState === 'healthy').length;
        return [d.id, d.status, `${healthy}/${d.replicas}`, shortDigest(d.artifact), fromBuild.get(d.id)?.id ?? '-', d.createdAt, d.statusReason ?? ''];
      });
      console.log(table(['DEPLOYMENT', 'STATUS', 'HEALTHY', 'ARTIFACT', 'BUILD', 'CREATED', 'REASON'], rows));
    });
}
