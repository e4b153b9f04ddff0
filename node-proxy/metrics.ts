/**
 * Prometheus metrics of one proxy (own registry, so several proxies in one process stay apart).
 * No prom-client default process metrics: their GC observer showed up in the per-request CPU profile.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'zectre_proxy_requests_total', help: 'Requests answered, by status code', labelNames: ['status'], registers: [this.registry] });
  private readonly latency = new Histogram({
    name: 'zectre_proxy_request_duration_seconds',
    help: 'Time from request to the end of the response',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly upstreamErrors = new Counter({ name: 'zectre_proxy_upstream_errors_total', help: 'Failed attempts to reach a backend, by error code', labelNames: ['code'], registers: [this.registry] });
  private readonly reloads = new Counter({ name: 'zectre_proxy_route_reloads_total', help: 'Route tables loaded', registers: [this.registry] });
  private readonly epoch = new Gauge({ name: 'zectre_proxy_route_epoch', help: 'Route epoch being served', registers: [this.registry] });
  private readonly websockets = new Gauge({ name: 'zectre_proxy_websockets_open', help: 'WebSocket connections being relayed', registers: [this.registry] });
  /** Bound children per status: labels() hashes its argument on every call, this does it once. */
  private readonly byStatus = new Map<number, Counter.Internal>();

  request(status: number, seconds: number): void {
    let counter = this.byStatus.get(status);
    if (!counter) {
      counter = this.requests.labels(String(status));
      this.byStatus.set(status, counter);
    }
    counter.inc();
    this.latency.observe(seconds);
  }

  upstreamError(code: string): void {
    this.upstreamErrors.inc({ code });
  }

  routesLoaded(epoch: number): void {
    this.reloads.inc();
    this.epoch.set(epoch);
  }

  websocketCount(delta: number): void {
    this.websockets.inc(delta);
  }
}
