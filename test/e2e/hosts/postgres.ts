/**
 * A private PostgreSQL cluster for the multi-host suite (never the shared one on 127.0.0.1:5432):
 * initdb in a temporary directory as the `postgres` user, listening on the control-plane host's
 * address inside its namespace, trust authentication for the suite's subnet.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inHost, PREFIX, type Host } from './netns.js';

export const PG_PORT = 5432;

/** The newest installed server's bin directory, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

export interface PrivatePostgres {
  url: string;
  start(): void;
  stop(): void;
  remove(): Promise<void>;
}

export async function createPostgres(host: Host, bin: string): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), `${PREFIX}pg-`));
  await chmod(dir, 0o755); // the postgres user enters it
  const data = join(dir, 'data');
  const { uid, gid } = userIds('postgres');
  await chown(dir, uid, gid);
  const asPostgres = (args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  asPostgres([join(bin, 'initdb'), '-D', data, '--auth=trust', '-U', 'postgres', '--no-sync']);
  await appendFile(join(data, 'pg_hba.conf'), `host all all ${host.address.replace(/\.\d+$/, '.0')}/24 trust\n`);
  const options = `-c listen_addresses=${host.address} -p ${PG_PORT} -c unix_socket_directories=${dir} -c fsync=off`;
  const pgCtl = (args: string[]) => execFileSync(inHost(host)[0]!, [...inHost(host).slice(1), 'runuser', '-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  const pg = {
    url: `postgres://postgres@${host.address}:${PG_PORT}/postgres`,
    start: () => void pgCtl(['-l', join(dir, 'log'), '-o', options, '-w', 'start']),
    stop: () => void pgCtl(['-m', 'fast', '-w', 'stop']),
    async remove() {
      try {
        pg.stop();
      } catch {
        // not running
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}

function userIds(name: string): { uid: number; gid: number } {
  const [uid, gid] = execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim().split('\n').concat(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid: Number(uid), gid: Number(gid) };
}
