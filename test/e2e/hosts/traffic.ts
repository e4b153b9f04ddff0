/** The app the multi-host suite deploys, and requests to it through a host's proxy. */
import { request } from 'undici';
import { sleep } from '../../../dev/processes.js';
import { APPS_DOMAIN } from './control-plane.js';

export const PROJECT = 'web';

/**
 * Answers with its task id (which copy served); /write?n=N&tag=T prints N numbered lines.
 * Listens on every address: proxies on other hosts reach it at its node's address.
 */
export const APP = {
  'server.mjs': `
import http from 'node:http';
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/write') {
    const n = Number(url.searchParams.get('n'));
    for (let i = 1; i <= n; i++) console.log(url.searchParams.get('tag') + ' ' + i);
  }
  res.end(JSON.stringify({ task: process.env.ZECTRE_TASK_ID }));
}).listen(Number(process.env.PORT), '0.0.0.0');
`,
};

export const APP_SPEC = {
  command: 'node server.mjs',
  replicas: 2,
  healthCheck: { path: '/', intervalMs: 1000, timeoutMs: 1000, graceMs: 0 },
};

export interface Answer {
  status: number;
  /** The task that served it (200 only). */
  task?: string;
  body: string;
}

/** GET through a proxy with the app's Host. Longer than the proxy's own failover (connect 3 s, head 10 s) so its retries count. */
export async function viaProxy(proxyUrl: string, path = '/'): Promise<Answer> {
  const res = await request(`${proxyUrl}${path}`, { headers: { host: `${PROJECT}.${APPS_DOMAIN}` }, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const body = await res.body.text();
  const task = res.statusCode === 200 ? (JSON.parse(body) as { task: string }).task : undefined;
  return { status: res.statusCode, task, body };
}

export interface Sample {
  at: number;
  ok: boolean;
  task?: string;
  error?: string;
}

/** `concurrency` clients sending one request after another (paced, ~100/s each) through a proxy until stopped. */
export function requestStream(proxyUrl: string, concurrency: number) {
  const samples: Sample[] = [];
  let running = true;
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const a = await viaProxy(proxyUrl);
        samples.push({ at: Date.now(), ok: a.status === 200, task: a.task, error: a.status === 200 ? undefined : `${a.status} ${a.body.slice(0, 200)}` });
      } catch (err) {
        samples.push({ at: Date.now(), ok: false, error: (err as Error).message });
      }
      await sleep(10); // steady, not a load test: the machine is shared
    }
  });
  return {
    samples,
    async stop(): Promise<Sample[]> {
      running = false;
      await Promise.all(clients);
      return samples;
    },
  };
}
