/** The agent's Prometheus metrics (GET /metrics on the agent's HTTP server). */
import type { ObservedTask } from '../protocol/index.js';
import { Counter, Gauge, Histogram, MetricsRegistry } from '../protocol/prometheus-text.js';

export interface Metrics {
  registry: MetricsRegistry;
  linesShipped: Counter;
  linesDropped: Counter;
  heartbeatSeconds: Histogram;
}

const STATES = ['pending', 'starting', 'healthy', 'unhealthy', 'exited', 'failed'] as const;

/** `observed` is read at scrape time, so task gauges are never stale. */
export function createMetrics(observed: () => ObservedTask[]): Metrics {
  const registry = new MetricsRegistry();
  registry.register(
    new Gauge('zectre_agent_tasks', 'Tasks on this node by observed state', () => {
      const tasks = observed();
      return STATES.map((state) => ({ labels: { state }, value: tasks.filter((t) => t.state === state).length }));
    }),
  );
  registry.register(
    new Gauge('zectre_agent_task_restarts', 'Restarts of the tasks currently on this node (sum)', () => [
      { value: observed().reduce((n, t) => n + t.restarts, 0) },
    ]),
  );
  return {
    registry,
    linesShipped: registry.register(new Counter('zectre_agent_log_lines_shipped_total', 'Log lines acknowledged by the API')),
    linesDropped: registry.register(new Counter('zectre_agent_log_lines_dropped_total', 'Log lines dropped (spool full, or refused by the API)')),
    heartbeatSeconds: registry.register(
      new Histogram('zectre_agent_heartbeat_rtt_seconds', 'Heartbeat round-trip time', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    ),
  };
}
