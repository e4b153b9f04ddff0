/**
 * A minimal Prometheus text exposition (format 0.0.4): counters, gauges and one histogram kind,
 * shared by the agent and the proxy. Hand-written instead of prom-client: that library costs ~13 MB
 * of RSS on every VM (issue #3) and ~1 µs per proxied request (issue #4).
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;

interface Metric {
  lines(): string[];
}

/** Holds the metrics and renders them for GET /metrics. */
export class MetricsRegistry {
  readonly contentType = CONTENT_TYPE;
  private readonly all: Metric[] = [];

  register<M extends Metric>(metric: M): M {
    this.all.push(metric);
    return metric;
  }

  metrics(): string {
    return this.all.map((m) => m.lines().join('\n') + '\n').join('');
  }
}

export class Counter implements Metric {
  private value = 0;
  constructor(private readonly name: string, private readonly help: string) {}

  inc(by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up (got ${by})`);
    this.value += by;
  }

  lines(): string[] {
    return [...header(this.name, this.help, 'counter'), `${this.name} ${num(this.value)}`];
  }
}

/** A counter per value of one label (status code, error code): a Map lookup per increment. */
export class LabelledCounter implements Metric {
  private readonly values = new Map<string | number, number>();
  constructor(private readonly name: string, private readonly help: string, private readonly label: string) {}

  inc(value: string | number): void {
    this.values.set(value, (this.values.get(value) ?? 0) + 1);
  }

  lines(): string[] {
    const samples = [...this.values].map(([v, n]) => `${this.name}${labels({ [this.label]: String(v) })} ${n}`);
    return [...header(this.name, this.help, 'counter'), ...samples];
  }
}

/** A gauge whose samples are computed at scrape time, so it is never stale. */
export class Gauge implements Metric {
  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly collect: () => Array<{ labels?: Labels; value: number }>,
  ) {}

  lines(): string[] {
    return [...header(this.name, this.help, 'gauge'), ...this.collect().map((s) => `${this.name}${labels(s.labels)} ${num(s.value)}`)];
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly name: string, private readonly help: string, private readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    // Per-bucket counts; the cumulative `le` series is built at scrape time.
    const { buckets } = this;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  lines(): string[] {
    let cumulative = 0;
    const bucketLines = this.buckets.map((b, i) => {
      cumulative += this.counts[i]!;
      return `${this.name}_bucket${labels({ le: num(b) })} ${cumulative}`;
    });
    return [
      ...header(this.name, this.help, 'histogram'),
      ...bucketLines,
      `${this.name}_bucket${labels({ le: '+Inf' })} ${this.count}`,
      `${this.name}_sum ${num(this.sum)}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

function header(name: string, help: string, type: string): string[] {
  // In HELP text only backslash and newline are escaped.
  return [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
}

/** `{a="x",b="y"}` with label values escaped (backslash, double quote, newline); empty when there are none. */
export function labels(set: Labels | undefined): string {
  const pairs = Object.entries(set ?? {}).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}
