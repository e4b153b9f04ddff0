import type { Command } from 'commander';
import type { DomainView } from '../../protocol/index.js';
import { clientFromConfig, type ApiClient } from '../api-client.js';
import { CliError, UsageError } from '../errors.js';
import { examples, printJson, table } from '../output.js';

const domainsPath = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}/domains`;
const POLL_MS = 1_000;

export function registerDomains(program: Command): void {
  const domains = program
    .command('domains')
    .description("custom domains of a project, with certificates obtained automatically (point the domain's DNS at your proxies first)");

  domains
    .command('add')
    .description('route HOST to the project and obtain its certificate; waits until it is issued or has failed')
    .argument('<project>', 'project name')
    .argument('<host>', 'host name, e.g. www.example.com')
    .option('--no-wait', 'return once the domain is recorded')
    .option('--timeout <seconds>', 'how long to wait for the certificate', '300')
    .addHelpText('after', examples('zectre domains add hello www.example.com'))
    .action(async (project: string, host: string, opts: { wait: boolean; timeout: string }) => {
      const timeoutS = Number(opts.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got ${opts.timeout}`);
      const client = await clientFromConfig();
      const { domain } = await client.post<{ domain: DomainView }>(domainsPath(project), { hostname: host });
      console.log(`${domain.hostname} routes to ${project}; certificate: ${domain.status}`);
      if (opts.wait) await waitForCertificate(client, project, domain.hostname, timeoutS * 1000);
    });

  domains
    .command('list')
    .description("list the project's domains with their certificate status")
    .argument('<project>', 'project name')
    .option('--json', 'print JSON')
    .action(async (project: string, opts: { json?: boolean }) => {
      const client = await clientFromConfig();
      const answer = await client.get<{ domains: DomainView[] }>(domainsPath(project));
      if (opts.json) return printJson(answer);
      if (!answer.domains.length) return console.log(`no custom domains on ${project}`);
      const rows = answer.domains.map((d) => [d.hostname, d.status, d.notAfter ?? '-', d.message]);
      console.log(table(['HOST', 'STATUS', 'EXPIRES', 'MESSAGE'], rows));
    });

  domains
    .command('remove')
    .description('stop routing HOST to the project and drop its certificate')
    .argument('<project>', 'project name')
    .argument('<host>', 'host name')
    .action(async (project: string, host: string) => {
      const client = await clientFromConfig();
      await client.delete(`${domainsPath(project)}/${encodeURIComponent(host.toLowerCase())}`);
      console.log(`removed ${host} from ${project}`);
    });
}

/** Prints a line per change of status or message until the certificate is active or has failed. */
async function waitForCertificate(client: ApiClient, project: string, hostname: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const { domain } = await client.get<{ domain: DomainView }>(`${domainsPath(project)}/${encodeURIComponent(hostname)}`);
    if (domain.status === 'failed') throw new CliError(`no certificate for ${hostname}: ${domain.message}; fix it, then run \`zectre domains add ${project} ${hostname}\` again`);
    const line = `  ${domain.status}${domain.message ? `: ${domain.message}` : ''}`;
    if (line !== last) console.log(line);
    last = line;
    if (domain.status === 'active') return console.log(`https://${hostname}/ is served with a certificate valid until ${domain.notAfter}`);
    if (Date.now() > deadline) {
      throw new CliError(`${hostname} has no certificate yet (status ${domain.status}); is a proxy running with ZECTRE_ACME_DIRECTORY set? Check again with \`zectre domains list ${project}\``);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
