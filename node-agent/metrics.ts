/** The agent's Prometheus metrics (GET /metrics on the agent's HTTP server). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ObservedTask } from '../protocol/index.js';

export interface Metrics {
  registry: Registry;
  linesShipped: Counter;
  linesDropped: Counter;
  heartbeatSeconds: Histogram;
}

const STATES = ['pending', 'starting', 'healthy', 'unhealthy', 'exited', 'failed'] as const;

/** `observed` is read at scrape time, so task gauges are never stale. */
export function createMetrics(observed: () => ObservedTask[]): Metrics {
  const registry = new Registry();
  new Gauge({
    name: 'zectre_agent_tasks',
    help: 'Tasks on this node by observed state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const tasks = observed();
      for (const state of STATES) this.set({ state }, tasks.filter((t) => t.state === state).length);
    },
  });
  new Gauge({
    name: 'zectre_agent_task_restarts',
    help: 'Restarts of the tasks currently on this node (sum)',
    registers: [registry],
    collect() {
      this.set(observed().reduce((n, t) => n + t.restarts, 0));
    },
  });
  return {
    registry,
    linesShipped: new Counter({ name: 'zectre_agent_log_lines_shipped_total', help: 'Log lines acknowledged by the API', registers: [registry] }),
    linesDropped: new Counter({
      name: 'zectre_agent_log_lines_dropped_total',
      help: 'Log lines dropped (spool full, or refused by the API)',
      registers: [registry],
    }),
    heartbeatSeconds: new Histogram({
      name: 'zectre_agent_heartbeat_rtt_seconds',
      help: 'Heartbeat round-trip time',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
