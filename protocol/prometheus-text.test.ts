import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Histogram, MetricsRegistry } from './prometheus-text.js';

test('renders HELP/TYPE lines, escaped label values and a cumulative histogram', () => {
  const registry = new MetricsRegistry();
  const counter = registry.register(new Counter('c_total', 'a \\ help\nline'));
  registry.register(new Gauge('g', 'gauge', () => [{ labels: { path: 'a"b\\c\nd' }, value: 2 }]));
  const histogram = registry.register(new Histogram('h_seconds', 'hist', [0.1, 1]));
  counter.inc();
  counter.inc(2);
  histogram.observe(0.05);
  histogram.observe(0.5);
  histogram.observe(3);
  assert.equal(
    registry.metrics(),
    [
      '# HELP c_total a \\\\ help\\nline',
      '# TYPE c_total counter',
      'c_total 3',
      '# HELP g gauge',
      '# TYPE g gauge',
      'g{path="a\\"b\\\\c\\nd"} 2',
      '# HELP h_seconds hist',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="0.1"} 1',
      'h_seconds_bucket{le="1"} 2',
      'h_seconds_bucket{le="+Inf"} 3',
      'h_seconds_sum 3.55',
      'h_seconds_count 3',
      '',
    ].join('\n'),
  );
  assert.throws(() => counter.inc(-1), /can only go up/);
});
