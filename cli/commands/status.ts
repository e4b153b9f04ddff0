import type { Command } from 'commander';
import type { Deployment, Project } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import { buildsOf } from '../build-status.js';
import { examples, printJson, shortDigest, table } from '../output.js';
import { BUILD_HEADERS, buildRow } from './builds.js';

/** GET /api/v1/projects/:project answers the project plus its live deployment. */
type ProjectWithLive = Project & { liveDeployment: Deployment | null };

const RECENT_DEPLOYMENTS = 5;

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('without PROJECT: every project and its live deployment; with: that project in detail')
    .argument('[project]', 'project name')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre status', 'zectre status hello --json'))
    .action(async (project: string | undefined, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      if (project) await showProject(client, project, opts.json);
      else await showAll(client, opts.json);
    });
}

async function showAll(client: ApiClient, json?: boolean): Promise<void> {
  const { projects } = await client.get<{ projects: Project[] }>('/api/v1/projects');
  const details = await Promise.all(projects.map((p) => getProject(client, p.name)));
  if (json) return printJson({ projects: details });
  if (details.length === 0) {
    console.log('no projects yet; create one with `zectre projects create NAME`');
    return;
  }
  const rows = details.map((p) => {
    const live = p.liveDeployment;
    return [p.name, live?.id ?? '-', live ? healthyOf(live) : '-', p.urls.app];
  });
  console.log(table(['PROJECT', 'LIVE DEPLOYMENT', 'HEALTHY', 'URL'], rows));
}

async function showProject(client: ApiClient, name: string, json?: boolean): Promise<void> {
  const [project, history, builds] = await Promise.all([
    getProject(client, name),
    client.get<{ deployments: Deployment[] }>(`/api/v1/projects/${encodeURIComponent(name)}/deployments`),
    buildsOf(client, name),
  ]);
  const recent = history.deployments.slice(0, RECENT_DEPLOYMENTS);
  const recentBuilds = builds.slice(0, RECENT_DEPLOYMENTS);
  const { liveDeployment, ...rest } = project;
  if (json) return printJson({ project: rest, liveDeployment, deployments: recent, builds: recentBuilds });

  console.log(`project  ${project.name} (${project.id})`);
  console.log(`url      ${project.urls.app}`);
  if (!liveDeployment) {
    console.log('live     none yet');
  } else {
    const d = liveDeployment;
    console.log(`live     ${d.id} since ${d.liveAt ?? '?'}, ${healthyOf(d)} healthy`);
    console.log(`         ${d.command} from ${shortDigest(d.artifact)}`);
    if (d.tasks.length > 0) {
      const rows = d.tasks.map((t) => [
        t.id,
        `${t.nodeName}:${t.port}`,
        t.retiring ? 'retiring' : t.observedState,
        String(t.restarts),
        t.exitCode === null ? '-' : String(t.exitCode),
        t.message ?? '',
      ]);
      console.log(`\n${table(['TASK', 'NODE', 'STATE', 'RESTARTS', 'EXIT', 'MESSAGE'], rows)}`);
    }
  }
  if (recent.length > 0) {
    const rows = recent.map((d) => [d.id, d.status, d.createdAt, d.statusReason ?? '']);
    console.log(`\nrecent deployments\n${table(['DEPLOYMENT', 'STATUS', 'CREATED', 'REASON'], rows)}`);
  }
  if (recentBuilds.length > 0) console.log(`\nrecent builds\n${table(BUILD_HEADERS, recentBuilds.map(buildRow))}`);
}

function getProject(client: ApiClient, name: string): Promise<ProjectWithLive> {
  return client.get<ProjectWithLive>(`/api/v1/projects/${encodeURIComponent(name)}`);
}

function healthyOf(d: Deployment): string {
  return `${d.tasks.filter((t) => t.observedState === 'healthy').length}/${d.replicas}`;
}
