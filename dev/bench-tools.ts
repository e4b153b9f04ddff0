/** Helpers of `npm run bench:proxy`: the Debian tools it needs, nginx configurations, wrk runs and per-process CPU time. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startChild, waitFor, type Child } from './processes.js';

export function ensureTools(): void {
  const missing = ['nginx', 'wrk', 'taskset'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status !== 0);
  if (!missing.length) return;
  const install = 'apt-get update && apt-get install -y nginx wrk';
  if (process.getuid?.() === 0 && process.env.BENCH_NO_INSTALL !== '1') {
    console.log(`bench:proxy: installing ${missing.join(', ')} from Debian (${install})…`);
    execFileSync('sh', ['-c', `${install} >/dev/null`], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    return;
  }
  throw new Error(`bench:proxy needs ${missing.join(', ')} from Debian's packages: run \`sudo ${install}\` (util-linux provides taskset)`);
}

export const NGINX = spawnSync('sh', ['-c', 'command -v nginx']).stdout?.toString().trim() || '/usr/sbin/nginx';

const common = (dir: string) => `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  default_type application/octet-stream;`;

/** The backend app: 100 bytes at /small, a 1 MiB file at /big. */
export function backendConfig(dir: string, port: number, bigFile: string): string {
  return `${common(dir)}
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    location = /small { return 200 "${'x'.repeat(100)}"; }
    location = /big { alias ${bigFile}; }
  }
}`;
}

/** nginx as the peer reverse proxy: upstream keep-alive, one worker, the same forwarding headers as ours. */
export function peerConfig(dir: string, port: number, backendPort: number): string {
  return `${common(dir)}
  upstream app { server 127.0.0.1:${backendPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
    }
  }
}`;
}

/** Starts nginx pinned to `cpu` and resolves once it accepts connections on `port`. */
export async function startNginx(name: string, configFile: string, cpu: number, port: number): Promise<Child> {
  // -e: nginx opens its error log before reading the config; stderr may be a socket it cannot open().
  const child = startChild(name, 'taskset', ['-c', String(cpu), NGINX, '-c', configFile, '-e', `${configFile}.error.log`]);
  await waitFor(`${name} (nginx) to listen on ${port}`, () => accepts(port), 10_000, child);
  return child;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface WrkResult {
  requests: number;
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  mbPerSec: number;
  errors: number;
}

/** One wrk run pinned to `cpu`. */
export function wrk(cpu: number, url: string, host: string, connections: number, seconds: number): WrkResult {
  const out = execFileSync('taskset', ['-c', String(cpu), 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, url], {
    encoding: 'utf8',
  });
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const ms = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return NaN;
    return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]!]!;
  };
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests: num(/(\d+) requests in/),
    reqPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50ms: ms('50'),
    p99ms: ms('99'),
    mbPerSec: transfer ? Number(transfer[1]) * ({ B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 } as Record<string, number>)[transfer[2]!]! : NaN,
    errors: (errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (Number.isNaN(non2xx) ? 0 : non2xx),
  };
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** User + system CPU seconds used so far by these processes (all their threads). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  }
  return ticks / TICKS_PER_SECOND;
}

/** A process and its direct children (nginx: master + worker). */
export function withChildren(pid: number): number[] {
  const children = spawnSync('pgrep', ['-P', String(pid)]).stdout?.toString().trim().split('\n').filter(Boolean).map(Number) ?? [];
  return [pid, ...children];
}
