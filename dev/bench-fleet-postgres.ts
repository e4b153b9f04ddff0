/**
 * `--postgres private` (the default where PostgreSQL's server binaries are installed): a throwaway
 * PostgreSQL server (initdb + pg_ctl, PostgreSQL's default settings, trust auth on 127.0.0.1). A
 * control plane that opens too many connections exhausts its own server's max_connections rather
 * than a server others are using, and the server's whole CPU (connection forks and exits, background
 * workers) is the Worker's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { treeCpu } from './bench-fleet-cpu.js';
import { freePort } from './ports.js';

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port> (no database name). */
  url: string;
  /** CPU seconds of the whole server so far. */
  serverCpu(): number;
  stop(): void;
}

/** The directory of initdb and pg_ctl, when PostgreSQL's server binaries are installed. */
export function postgresBinaries(): string | undefined {
  const bin = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' }).stdout?.trim();
  return bin && existsSync(join(bin, 'initdb')) ? bin : undefined;
}

export async function startPrivatePostgres(bin: string): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'zectre-fleet-pg-'));
  // initdb refuses to run as root: the server runs as the postgres user, as the system one does.
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asUser.length) {
    const { uid, gid } = userIds('postgres');
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]) => execFileSync(asUser[0] ?? cmd, [...asUser.slice(1), ...(asUser.length ? [cmd] : []), ...args], { stdio: 'pipe' });
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a private PostgreSQL server: ${(err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message}`);
  }
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}`,
    serverCpu: () => treeCpu(postmaster),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}
