import { join } from 'node:path';
import { z } from 'zod';
import { Resources } from '../protocol/index.js';
import { CliError } from './errors.js';
import { readJsonFile, readOptional } from './read-file.js';

/** `zectre.json` at the app's root: how to start it, where to check its health, what it needs. */
const ZectreJson = z.object({
  command: z.string().min(1).optional(),
  healthcheck: z.object({ path: z.string().startsWith('/') }).partial().optional(),
  /** CPU in millicores and memory in MB per task, bounded as the API bounds them. */
  resources: z.object({ cpuMillis: Resources.shape.cpuMillis.unwrap(), memoryMb: Resources.shape.memoryMb.unwrap() }).partial().optional(),
});

export type ResourceRequest = { cpuMillis?: number; memoryMb?: number };

/** zectre.json's resources with --cpu/--memory over them; checked against the API's bounds. */
export async function resourceRequest(dir: string, flags: ResourceRequest): Promise<ResourceRequest> {
  return checkResources({ ...(await readZectreJson(dir))?.resources, ...flags });
}

/** A usage error (exit 2) naming the flag when a value is outside the API's bounds. */
export function checkResources(request: ResourceRequest): ResourceRequest {
  const checked = Resources.partial().safeParse(request);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const flag = issue?.path[0] === 'cpuMillis' ? '--cpu (millicores)' : '--memory (MB)';
    throw new CliError(`${flag}: ${issue?.message ?? 'invalid'}`, 2);
  }
  return request;
}

export interface StartCommand {
  command: string;
  /** Only set when zectre.json names one; the server's default ('/') applies otherwise. */
  healthCheckPath?: string;
  /** Where the command came from, to tell the user. */
  source: '--cmd' | 'zectre.json' | 'Procfile' | 'package.json';
}

/**
 * --cmd, else zectre.json's command, else the Procfile's `web:` line, else `npm start` when
 * package.json can start the app; else an error before anything is uploaded (on a node, `npm start`
 * with nothing to start only fails after the upload, or worse, finds some package.json above).
 */
export async function detectStartCommand(dir: string, override?: string): Promise<StartCommand> {
  const zectreJson = await readZectreJson(dir);
  const healthCheckPath = zectreJson?.healthcheck?.path;
  const withHealth = (command: string, source: StartCommand['source']): StartCommand =>
    healthCheckPath === undefined ? { command, source } : { command, source, healthCheckPath };

  if (override) return withHealth(override, '--cmd');
  if (zectreJson?.command) return withHealth(zectreJson.command, 'zectre.json');
  const web = await procfileWeb(dir);
  if (web) return withHealth(web, 'Procfile');
  if (await npmCanStart(dir)) return withHealth('npm start', 'package.json');
  throw new CliError(
    `nothing says how to start ${dir}: add a "start" script to package.json, a Procfile with a web: line, ` +
      'or zectre.json {"command": "..."}; or pass --cmd "..."',
  );
}

/** npm start runs scripts.start, or `node server.js` when there is no such script but a server.js. */
async function npmCanStart(dir: string): Promise<boolean> {
  const pkg = (await readJsonFile(join(dir, 'package.json'))) as { scripts?: { start?: unknown } } | null;
  if (pkg === null) return false;
  if (typeof pkg?.scripts?.start === 'string' && pkg.scripts.start.trim() !== '') return true;
  return (await readOptional(join(dir, 'server.js'))) !== null;
}

async function readZectreJson(dir: string): Promise<z.infer<typeof ZectreJson> | null> {
  const path = join(dir, 'zectre.json');
  const json = await readJsonFile(path);
  if (json === null) return null;
  const parsed = ZectreJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${path}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

async function procfileWeb(dir: string): Promise<string | null> {
  const text = await readOptional(join(dir, 'Procfile'));
  const match = text?.match(/^web:[ \t]*(.+)$/m);
  return match?.[1]?.trim() || null;
}
