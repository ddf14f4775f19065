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

test('the queue-wait histogram and the shed counter', () => {
  const metrics = new Metrics();
  metrics.pool = () => ({ queued: 0, workers: 1, busy: 0 });
  metrics.queued(0.0002);
  metrics.queued(0.3);
  metrics.queued(12);
  metrics.shed('queue_full');
  metrics.shed('queue_full');
  metrics.shed('queue_timeout');
  const samples = parsePrometheus(metrics.render());
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="0.001"}'), 1);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="0.5"}'), 2);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="10"}'), 2);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="+Inf"}'), 3);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_count'), 3);
  assert.ok(Math.abs(samples.get('nodicorn_queue_wait_seconds_sum')! - 12.3002) < 1e-9);
  assert.equal(samples.get('nodicorn_requests_shed_total{reason="queue_full"}'), 2);
  assert.equal(samples.get('nodicorn_requests_shed_total{reason="queue_timeout"}'), 1);
});
