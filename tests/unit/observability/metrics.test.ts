import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AggregatorRegistry } from 'prom-client';
import { Metrics } from '../../../src/observability/metrics.js';
import { repoRoot } from '../../helpers/paths.js';
import { parsePrometheus, seriesOf } from '../../helpers/prometheus.js';

test('counters, the latency histogram and pool gauges render as Prometheus text', async () => {
  const metrics = new Metrics();
  metrics.observe(200, 0.003);
  metrics.observe(200, 0.2);
  metrics.observe(502, 7);
  metrics.restarted('crash');
  metrics.attachPool(() => ({ queued: 3, workers: 2, busy: 1 }));
  const samples = parsePrometheus(await metrics.render());
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

test('the queue-wait histogram and the shed counter', async () => {
  const metrics = new Metrics();
  metrics.attachPool(() => ({ queued: 0, workers: 1, busy: 0 }));
  metrics.queued(0.0002);
  metrics.queued(0.3);
  metrics.queued(12);
  metrics.shed('queue_full');
  metrics.shed('queue_full');
  metrics.shed('queue_timeout');
  const samples = parsePrometheus(await metrics.render());
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="0.001"}'), 1);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="0.5"}'), 2);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="10"}'), 2);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_bucket{le="+Inf"}'), 3);
  assert.equal(samples.get('nodicorn_queue_wait_seconds_count'), 3);
  assert.ok(Math.abs(samples.get('nodicorn_queue_wait_seconds_sum')! - 12.3002) < 1e-9);
  assert.equal(samples.get('nodicorn_requests_shed_total{reason="queue_full"}'), 2);
  assert.equal(samples.get('nodicorn_requests_shed_total{reason="queue_timeout"}'), 1);
});

test("workers' memory and CPU: one series each for the workers reported at that scrape, read once a scrape", async () => {
  const metrics = new Metrics();
  let workers = [
    { pid: 101, rssBytes: 20_000_000, cpuSeconds: 1.5 },
    { pid: 102, rssBytes: 30_000_000, cpuSeconds: 0.25 },
  ];
  let reads = 0;
  metrics.attachPool(
    () => ({ queued: 0, workers: workers.length, busy: 0 }),
    async () => {
      reads++;
      return workers;
    },
  );
  const first = parsePrometheus(await metrics.render());
  assert.equal(reads, 1);
  assert.deepEqual(
    seriesOf(first, 'nodicorn_worker_resident_memory_bytes'),
    new Map([
      ['{pid="101"}', 20_000_000],
      ['{pid="102"}', 30_000_000],
    ]),
  );
  assert.deepEqual(
    seriesOf(first, 'nodicorn_worker_cpu_seconds_total'),
    new Map([
      ['{pid="101"}', 1.5],
      ['{pid="102"}', 0.25],
    ]),
  );
  // 101 exited and 103 replaced it; 102 went on using CPU.
  workers = [
    { pid: 102, rssBytes: 31_000_000, cpuSeconds: 0.75 },
    { pid: 103, rssBytes: 19_000_000, cpuSeconds: 0.125 },
  ];
  const second = parsePrometheus(await metrics.render());
  assert.equal(reads, 2);
  assert.deepEqual(
    seriesOf(second, 'nodicorn_worker_resident_memory_bytes'),
    new Map([
      ['{pid="102"}', 31_000_000],
      ['{pid="103"}', 19_000_000],
    ]),
  );
  assert.deepEqual(
    seriesOf(second, 'nodicorn_worker_cpu_seconds_total'),
    new Map([
      ['{pid="102"}', 0.75],
      ['{pid="103"}', 0.125],
    ]),
  );
});

test('without a pool (a TypeScript app) there are no pool or worker series; the process metrics are there', async () => {
  const metrics = new Metrics();
  metrics.observe(200, 0.01);
  const text = await metrics.render();
  const samples = parsePrometheus(text);
  assert.equal(samples.get('nodicorn_requests_total{status="200"}'), 1);
  assert.ok(samples.get('process_resident_memory_bytes')! > 0);
  assert.ok(samples.has('nodejs_heap_size_used_bytes'));
  assert.doesNotMatch(text, /nodicorn_workers|nodicorn_queue|nodicorn_worker_/);
});

test("snapshots of several processes' metrics aggregate into one valid exposition (multi-process fronts)", async () => {
  const one = new Metrics();
  const two = new Metrics();
  one.observe(404, 0.5);
  two.observe(404, 0.02);
  two.observe(200, 0.02);
  one.attachPool(
    () => ({ queued: 1, workers: 2, busy: 1 }),
    async () => [{ pid: 11, rssBytes: 1000, cpuSeconds: 1 }],
  );
  two.attachPool(
    () => ({ queued: 2, workers: 2, busy: 0 }),
    async () => [{ pid: 22, rssBytes: 2000, cpuSeconds: 2 }],
  );
  const snapshots = [await one.snapshot(), await two.snapshot()];
  const requests = snapshots[0]!.find((m) => m.name === 'nodicorn_requests_total');
  assert.equal(requests?.aggregator, 'sum');
  assert.equal(snapshots[0]!.find((m) => m.name === 'process_start_time_seconds')?.aggregator, 'omit');
  const samples = parsePrometheus(await AggregatorRegistry.aggregate(snapshots).metrics());
  assert.equal(samples.get('nodicorn_requests_total{status="404"}'), 2);
  assert.equal(samples.get('nodicorn_requests_total{status="200"}'), 1);
  assert.equal(samples.get('nodicorn_request_duration_seconds_bucket{le="0.025"}'), 2);
  assert.equal(samples.get('nodicorn_request_duration_seconds_count'), 3);
  assert.equal(samples.get('nodicorn_queue_depth'), 3);
  assert.equal(samples.get('nodicorn_workers{state="idle"}'), 3);
  assert.deepEqual(
    seriesOf(samples, 'nodicorn_worker_cpu_seconds_total'),
    new Map([
      ['{pid="11"}', 1],
      ['{pid="22"}', 2],
    ]),
  );
  assert.ok(!samples.has('process_start_time_seconds'));
});

test("docs/logging.md's table lists exactly nodicorn's metrics, with their types", async () => {
  const metrics = new Metrics();
  metrics.attachPool(
    () => ({ queued: 0, workers: 1, busy: 0 }),
    async () => [],
  );
  const ours = new Map(
    (await metrics.snapshot())
      .filter((m) => m.name.startsWith('nodicorn_'))
      .map((m) => [m.name, String(m.type)]),
  );
  const doc = readFileSync(`${repoRoot}docs/logging.md`, 'utf8');
  const documented = new Map(
    [...doc.matchAll(/^\| `(nodicorn_[a-z_]+)(?:\{[a-z]+\})?` \| ([a-z]+) \|/gm)].map((m) => [m[1]!, m[2]!]),
  );
  assert.deepEqual(documented, ours);
});
