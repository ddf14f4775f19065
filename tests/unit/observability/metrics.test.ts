import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../../src/observability/metrics.js';
import { parsePrometheus } from '../../helpers/prometheus.js';

test('counters, the latency histogram and pool gauges render as Prometheus text', () => {
  const metrics = new Metrics();
  metrics.observe(200, 0.003);
  metrics.observe(200, 0.2);
  metrics.observe(502, 7);
  metrics.restarted('crash');
  metrics.pool = () => ({ queued: 3, workers: 2, busy: 1 });
  const samples = parsePrometheus(metrics.render());
  assert.equal(samples.get('nodicorn_requests_total{status="200"}'), 2);
  assert.equal(samples.get('nodicorn_requests_total{status="502"}'), 1);
  assert.equal(samples.get('nodicorn_request_duration_seconds_bucket{le="0.005"}'), 1);
  assert.equal(samples.get('nodicorn_request_duration_seconds_bucket{le="0.25"}'), 2);
  assert.equal(samples.get('nodicorn_request_duration_seconds_bucket{le="+Inf"}'), 3);
  assert.equal(samples.get('nodicorn_request_duration_seconds_count'), 3);
  assert.equal(samples.get('nodicorn_queue_depth'), 3);
  assert.equal(samples.get('nodicorn_workers{state="idle"}'), 1);
  assert.equal(samples.get('nodicorn_worker_restarts_total{reason="crash"}'), 1);
});
