import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { LogLine, LogPage } from '../../protocol/index.js';
import { clientFromConfig } from '../api-client.js';
import { examples } from '../output.js';

const FOLLOW_POLL_MS = 1_000;
/** The server's page size when no --lines is given. */
const DEFAULT_PAGE = 100;

interface LogsOptions {
  follow?: boolean;
  deployment?: string;
  task?: string;
  since?: string;
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
    .option('--task <id>', 'only this task')
    .option('--since <duration>', 'only lines from the last 30s, 10m, 2h, 1d (or since an ISO time)', (v: string) => parseSince(v))
    .option('-n, --lines <n>', 'how many lines to fetch per request', parsePositive)
    .option('--json', 'print one JSON object per line (NDJSON)')
    .addHelpText('after', examples('zectre logs hello -n 50', 'zectre logs hello -f --since 10m --task t1234abcd5678'))
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
          if (opts.task) query.set('task', opts.task);
          if (opts.since) query.set('since', opts.since);
          const path = `/api/v1/projects/${encodeURIComponent(project)}/logs?${query}`;
          const page = await client.get<LogPage>(path, { signal: stop.signal });
          for (const line of page.lines) process.stdout.write(`${opts.json ? JSON.stringify(line) : formatLine(line)}\n`);
          after = page.cursor;
          // --since reads forwards from that time: keep paging until a short page.
          const more = opts.since !== undefined && page.lines.length >= (opts.lines ?? DEFAULT_PAGE);
          if (!opts.follow && !more) return;
          if (more) continue;
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

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m` -> the ISO time ten minutes ago; an ISO time passes through. */
export function parseSince(value: string, now = Date.now()): string {
  const match = /^(\d+)([smhd])$/.exec(value);
  if (match) return new Date(now - Number(match[1]) * UNIT_MS[match[2]!]!).toISOString();
  if (!Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new InvalidArgumentError('expected a duration like 30s, 10m, 2h, 1d, or an ISO time');
}
