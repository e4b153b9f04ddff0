import type { Command } from 'commander';
import { clientFromConfig } from '../api-client.js';
import { buildLogs, cancelBuild, getBuild, isFinished, listBuilds, type Build, type BuildLogLine } from '../build-api.js';
import { examples, printJson, shortDigest, table } from '../output.js';

export function registerBuilds(program: Command): void {
  const builds = program.command('builds').description("a project's remote builds (source in, artifact out, on builder nodes)");

  builds
    .command('list')
    .description("list a project's builds, newest first")
    .argument('<project>', 'project name')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('zectre builds list hello', 'zectre builds list hello --json'))
    .action(async (project: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const list = await listBuilds(client, project);
      if (opts.json) return printJson({ builds: list });
      if (list.length === 0) {
        console.log(`no builds of ${project} yet; \`zectre deploy DIR --project ${project}\` builds a directory with a lockfile and no node_modules`);
        return;
      }
      console.log(table(BUILD_HEADERS, list.map(buildRow)));
    });

  builds
    .command('logs')
    .description("print a build's output (kept with it after it ends): `<stream> <line>`")
    .argument('<id>', 'build id')
    .option('-f, --follow', 'keep printing lines until the build ends (Ctrl-C stops following, not the build)')
    .option('--json', 'print one JSON object per line (NDJSON)')
    .addHelpText('after', examples('zectre builds logs b1234abcd5678', 'zectre builds logs b1234abcd5678 -f'))
    .action(async (id: string, opts: { follow?: boolean; json?: boolean }) => {
      const { followBuild, formatBuildLine, buildFailed } = await import('../run/build.js');
      const client = await clientFromConfig();
      const print = (line: BuildLogLine) => process.stdout.write(`${opts.json ? JSON.stringify(line) : formatBuildLine(line, Boolean(process.stdout.isTTY))}\n`);
      const say = (line: string) => process.stderr.write(`${line}\n`);
      if (!opts.follow) {
        let after = 0;
        for (;;) {
          const page = await buildLogs(client, id, after, 0);
          for (const line of page.lines) print(line);
          if (page.done || page.lines.length === 0) break;
          after = page.lines.at(-1)!.seq;
        }
        const build = await getBuild(client, id);
        if (!isFinished(build.status)) say(`build ${id} is ${build.status}${build.step ? ` (step ${build.step})` : ''}; add -f to follow it`);
        return;
      }
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const build = await followBuild(client, await getBuild(client, id), { say, print, signal: stop.signal });
        if (build.status !== 'succeeded') throw buildFailed(build);
        say(`build ${id} succeeded${build.deploymentId ? `: deployment ${build.deploymentId}` : ''}`);
      } catch (err) {
        if (!stop.signal.aborted) throw err; // Ctrl-C: stop following; the build goes on
      } finally {
        process.off('SIGINT', onSigint);
      }
    });

  builds
    .command('cancel')
    .description('stop a queued or running build (nothing is deployed from it)')
    .argument('<id>', 'build id')
    .option('--json', 'print the build as JSON')
    .addHelpText('after', examples('zectre builds cancel b1234abcd5678'))
    .action(async (id: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const build = await cancelBuild(client, id);
      if (opts.json) return printJson({ build });
      console.log(isFinished(build.status) ? `build ${id} is ${build.status}` : `build ${id}: cancel requested (${build.status})`);
    });
}

export const BUILD_HEADERS = ['BUILD', 'STATUS', 'STEP', 'CACHE', 'NODE', 'DEPLOYMENT', 'CREATED', 'ERROR'];

export function buildRow(b: Build): string[] {
  return [
    b.id,
    b.status,
    b.step ?? '-',
    b.cache ?? '-',
    b.node ?? '-',
    b.deploymentId ?? (b.artifactDigest ? shortDigest(b.artifactDigest) : '-'),
    b.createdAt,
    firstLine(b.error),
  ];
}

function firstLine(text: string | null): string {
  return text?.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}
