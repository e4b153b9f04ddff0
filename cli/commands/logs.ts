import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { LogLine, LogPage } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples } from '../output.js';

const FOLLOW_POLL_MS = 1_000;

interface LogsOptions {
  follow?: boolean;
  deployment?: string;
  lines?: number;
  json?: boolean;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("print a project's task logs: `<time> <task> <stream> <line>`")
    .argument('<project>', 'project name')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--deployment <id>', "only this deployment's tasks")
    .option('-n, --lines <n>', 'how many lines to fetch per request', parsePositive)
    .option('--json', 'print one JSON object per line (NDJSON)')
    .addHelpText('after', examples('zectre logs hello -n 50', 'zectre logs hello -f --deployment d1234abcd5678'))
    .action(async (project: string, opts: LogsOptions) => {
      const client = await clientFromConfig();
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        let after: number | undefined;
        for (;;) {
          const query = new URLSearchParams();
          if (after !== undefined) query.set('after', String(after));
          if (opts.lines !== undefined) query.set('limit', String(opts.lines));
          if (opts.deployment) query.set('deployment', opts.deployment);
          const path = `/api/v1/projects/${encodeURIComponent(project)}/logs?${query}`;
          const page = await client.get<LogPage>(path, { signal: stop.signal });
          for (const line of page.lines) process.stdout.write(`${opts.json ? JSON.stringify(line) : formatLine(line)}\n`);
          after = page.cursor;
          if (!opts.follow) return;
          // A full page means more is waiting: fetch it right away instead of sleeping.
          if (opts.lines === undefined || page.lines.length < opts.lines) await sleep(FOLLOW_POLL_MS, undefined, { signal: stop.signal });
        }
      } catch (err) {
        if (!stop.signal.aborted) throw err;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

function formatLine(line: LogLine): string {
  const text = `${line.ts} ${line.taskId} ${line.stream} ${line.line}`;
  // Colour marks stderr on a terminal; piped output keeps the plain stream column.
  return line.stream === 'stderr' && process.stdout.isTTY ? `\x1b[31m${text}\x1b[0m` : text;
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number above 0');
  return n;
}
