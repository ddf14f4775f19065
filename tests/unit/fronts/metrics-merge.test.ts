import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeExpositions } from '../../../src/fronts/metrics-merge.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { parsePrometheus } from '../../helpers/prometheus.js';

test("two fronts' metrics as one: counters, histograms and gauges summed by name and labels", async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.observe(200, 0.003);
  a.observe(200, 0.2);
  b.observe(200, 0.004);
  b.observe(502, 7);
  a.inFlight = 2;
  b.inFlight = 1;
  const merged = parsePrometheus(mergeExpositions([await a.render(), await b.render()]));
  assert.equal(merged.get('nodicorn_requests_total{status="200"}'), 3);
  assert.equal(merged.get('nodicorn_requests_total{status="502"}'), 1);
  assert.equal(merged.get('nodicorn_request_duration_seconds_bucket{le="0.005"}'), 2);
  assert.equal(merged.get('nodicorn_request_duration_seconds_bucket{le="+Inf"}'), 4);
  assert.equal(merged.get('nodicorn_request_duration_seconds_count'), 4);
  assert.ok(Math.abs(merged.get('nodicorn_request_duration_seconds_sum')! - 7.207) < 1e-9);
  assert.equal(merged.get('nodicorn_requests_in_flight'), 3);
});

test('gauges that do not add up: start time the earliest, info and limits the largest, lag the mean', () => {
  const front = (start: number, lag: number, fds: number) =>
    [
      '# HELP process_start_time_seconds Start time.',
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${start}`,
      '# TYPE nodejs_version_info gauge',
      'nodejs_version_info{version="v20.20.2",major="20"} 1',
      '# TYPE process_max_fds gauge',
      `process_max_fds ${fds}`,
      '# TYPE nodejs_eventloop_lag_seconds gauge',
      `nodejs_eventloop_lag_seconds ${lag}`,
      '# TYPE process_cpu_seconds_total counter',
      'process_cpu_seconds_total 1.5',
      '',
    ].join('\n');
  const merged = parsePrometheus(mergeExpositions([front(200, 0.01, 1024), front(100, 0.03, 4096)]));
  assert.equal(merged.get('process_start_time_seconds'), 100);
  assert.equal(merged.get('nodejs_version_info{version="v20.20.2",major="20"}'), 1);
  assert.equal(merged.get('process_max_fds'), 4096);
  assert.ok(Math.abs(merged.get('nodejs_eventloop_lag_seconds')! - 0.02) < 1e-12);
  assert.equal(merged.get('process_cpu_seconds_total'), 3);
});

test('series only some fronts have are kept; label values with spaces, braces and quotes are read whole', () => {
  const merged = mergeExpositions([
    '# TYPE x_total counter\nx_total{path="/a b}",q="say \\"hi\\""} 2\n',
    '# TYPE x_total counter\nx_total{path="/a b}",q="say \\"hi\\""} 3\nx_total{path="/c"} 1\n# TYPE y gauge\ny +Inf\n',
  ]);
  assert.equal(
    merged,
    [
      '# TYPE x_total counter',
      'x_total{path="/a b}",q="say \\"hi\\""} 5',
      'x_total{path="/c"} 1',
      '# TYPE y gauge',
      'y +Inf',
      '',
    ].join('\n'),
  );
  assert.equal(mergeExpositions([]), '');
});
