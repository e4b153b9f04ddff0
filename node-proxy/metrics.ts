/** Prometheus metrics of one proxy (own registry, so several proxies in one process stay apart). */
import { Counter, Gauge, Histogram, LabelledCounter, MetricsRegistry } from '../protocol/prometheus-text.js';

export class ProxyMetrics {
  readonly registry = new MetricsRegistry();
  private readonly requests = this.registry.register(new LabelledCounter('zectre_proxy_requests_total', 'Requests answered, by status code', 'status'));
  private readonly latency = this.registry.register(
    new Histogram('zectre_proxy_request_duration_seconds', 'Time from request to the end of the response', [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]),
  );
  private readonly upstreamErrors = this.registry.register(new LabelledCounter('zectre_proxy_upstream_errors_total', 'Failed attempts to reach a backend, by error code', 'code'));
  private readonly reloads = this.registry.register(new Counter('zectre_proxy_route_reloads_total', 'Route tables loaded'));
  private epoch = 0;
  private websockets = 0;

  constructor() {
    this.registry.register(new Gauge('zectre_proxy_route_epoch', 'Route epoch being served', () => [{ value: this.epoch }]));
    this.registry.register(new Gauge('zectre_proxy_websockets_open', 'WebSocket connections being relayed', () => [{ value: this.websockets }]));
  }

  request(status: number, seconds: number): void {
    this.requests.inc(status);
    this.latency.observe(seconds);
  }

  upstreamError(code: string): void {
    this.upstreamErrors.inc(code);
  }

  routesLoaded(epoch: number): void {
    this.reloads.inc();
    this.epoch = epoch;
  }

  websocketCount(delta: number): void {
    this.websockets += delta;
  }
}
