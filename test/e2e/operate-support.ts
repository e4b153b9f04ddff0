/** Helpers for the operate suite: a second agent, a steady request stream through the proxy. */
import { join } from 'node:path';
import { request } from 'undici';
import { ROOT } from '../../dev/root.js';
import { sleep, startChild, waitFor, type Child } from '../../dev/processes.js';
import { freePort } from '../../dev/ports.js';

/** Starts one more real agent (its own state dir and task port range, so it can share this machine). */
export async function startSecondAgent(opts: { apiUrl: string; joinToken: string; dir: string; name: string; portRange: string; echo?: boolean }): Promise<Child> {
  const agent = startChild(opts.name, process.execPath, ['--import', 'tsx', 'node-agent/main.ts'], {
    echo: opts.echo,
    cwd: ROOT,
    env: {
      ...process.env,
      ZECTRE_API_URL: opts.apiUrl,
      ZECTRE_JOIN_TOKEN: opts.joinToken,
      ZECTRE_AGENT_STATE_DIR: join(opts.dir, opts.name),
      ZECTRE_AGENT_NAME: opts.name,
      ZECTRE_AGENT_PORT: String(await freePort()),
      ZECTRE_AGENT_PORT_RANGE: opts.portRange,
      ZECTRE_AGENT_STOP_TASKS_ON_EXIT: '1',
    },
  });
  try {
    await waitFor(`agent ${opts.name} to register`, async () => /agent ready/.test(agent.output()), 30_000, agent);
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return agent;
}

export interface StreamResult {
  requests: number;
  failures: string[];
  /** How many answers carried each body. */
  bodies: Map<string, number>;
}

/**
 * Sends GETs through the proxy one after another until stopped, recording every answer that is
 * not a 200 (or that errors). Callers assert `failures` is empty: no request failed during a change.
 */
export function steadyStream(proxyUrl: string, host: string): { stop(): Promise<StreamResult> } {
  const result: StreamResult = { requests: 0, failures: [], bodies: new Map() };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await request(`${proxyUrl}/`, { headers: { host } });
        const body = (await res.body.text()).trim();
        result.requests++;
        if (res.statusCode !== 200) result.failures.push(`${res.statusCode} ${body.slice(0, 200)}`);
        else result.bodies.set(body, (result.bodies.get(body) ?? 0) + 1);
      } catch (err) {
        result.requests++;
        result.failures.push(String(err));
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return result;
    },
  };
}
