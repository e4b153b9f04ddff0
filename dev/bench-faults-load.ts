/**
 * The open-loop load of bench:faults: one GET through the proxy every 50 ms (20 requests/s) on
 * keep-alive connections, whether or not earlier ones have answered, so a hung backend shows as
 * requests that wait rather than as a pause in the load. Requests come from several loopback
 * addresses in turn, as from several clients: from one, requests held by a frozen backend would
 * soon meet the proxy's per-client limit (429) instead of the fault.
 */
import { Agent, request } from 'undici';

export interface Outcome {
  sentAt: number;
  doneAt?: number;
  ok?: boolean;
  /** Status code and start of the body, or the error, for failures. */
  detail?: string;
}

/** An answer slower than this counts against "serving again" (a request that waited on a frozen backend). */
export const SLOW_MS = 5_000;
const INTERVAL_MS = 50;
const CLIENTS = Array.from({ length: 16 }, (_, i) => new Agent({ localAddress: `127.0.0.${i + 2}` }));

export function openLoop(proxyUrl: string, host: string): { outcomes: Outcome[]; send(path: string): void; stop(): void; settled(): Promise<void> } {
  const outcomes: Outcome[] = [];
  const pending = new Set<Promise<void>>();
  const send = (path: string) => {
    const dispatcher = CLIENTS[outcomes.length % CLIENTS.length];
    const o: Outcome = { sentAt: Date.now() };
    outcomes.push(o);
    const p = (async () => {
      try {
        const res = await request(`${proxyUrl}${path}`, { dispatcher, headers: { host }, headersTimeout: 120_000, bodyTimeout: 120_000 });
        const body = (await res.body.text()).trim();
        o.ok = res.statusCode === 200;
        if (!o.ok) o.detail = `${res.statusCode} ${body.slice(0, 80)}`;
      } catch (err) {
        o.ok = false;
        o.detail = (err as Error).message.slice(0, 80);
      }
      o.doneAt = Date.now();
    })();
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const timer = setInterval(() => send('/'), INTERVAL_MS);
  return {
    outcomes,
    send,
    stop: () => clearInterval(timer),
    settled: async () => void (await Promise.all(pending)),
  };
}

const bad = (o: Outcome) => o.ok === false || (o.doneAt ?? Date.now()) - o.sentAt > SLOW_MS;

/** True when every request sent in the last `ms` (and at least `ms` after `since`) answered 200 quickly, and none is waiting past SLOW_MS. */
export function cleanFor(outcomes: Outcome[], since: number, ms: number): boolean {
  const now = Date.now();
  return now - since >= ms && !outcomes.some((o) => bad(o) && (o.sentAt >= now - ms || o.doneAt === undefined));
}

export interface Summary {
  sent: number;
  failed: number;
  /** Answered 200, but after SLOW_MS. */
  slow: number;
  /** From the fault to the first request after the last failed or slow one (0: none was). */
  servingAgainS: number;
  /** The longest any request waited for its answer. */
  longestS: number;
  /** The most common failures, "count × detail". */
  kinds: string[];
}

export function summarize(outcomes: Outcome[], faultAt: number): Summary {
  const failed = outcomes.filter((o) => o.ok === false);
  const slow = outcomes.filter((o) => o.ok && o.doneAt! - o.sentAt > SLOW_MS);
  let lastBad = outcomes.length - 1;
  while (lastBad >= 0 && !bad(outcomes[lastBad]!)) lastBad--;
  const next = outcomes[lastBad + 1];
  const servingAgainS = lastBad === -1 ? 0 : Math.max(0, ((next?.sentAt ?? Date.now()) - faultAt) / 1000);
  const counts = new Map<string, number>();
  for (const o of failed) {
    const kind = o.detail!.replace(/\d{4,}/g, 'N');
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const kinds = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([k, n]) => `${n} × ${k}`);
  const longestS = Math.max(0, ...outcomes.map((o) => (o.doneAt ?? Date.now()) - o.sentAt)) / 1000;
  return { sent: outcomes.length, failed: failed.length, slow: slow.length, servingAgainS, longestS, kinds };
}
