/** /metrics on --metrics-bind: Prometheus text whose counters move as requests are served. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { memoryKiB, pythonWorkers, until } from '../helpers/processes.js';
import { metricsPort, parsePrometheus, seriesOf } from '../helpers/prometheus.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

/** faults.py on two workers, with /metrics on a port of its own. */
const startFaults = () =>
  startNodicorn([
    '--chdir',
    `${fixtures}python`,
    'faults:application',
    '-w',
    '2',
    '--metrics-bind',
    '127.0.0.1:0',
  ]);

test('the counters move as requests are served, and a crash counts as a restart', async () => {
  await withNodicorn(
    ['--chdir', `${fixtures}python`, 'faults:application', '-w', '2', '--metrics-bind', '127.0.0.1:0'],
    async (server) => {
      const port = await metricsPort(server);
      const scrape = async () => {
        const response = await get(port, '/metrics');
        assert.equal(response.status, 200);
        assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
        return parsePrometheus(response.body);
      };
      const before = await scrape();
      assert.equal(before.get('nodicorn_workers{state="idle"}'), 2);
      for (let i = 0; i < 5; i++) await get(server.port, '/sleep/0');
      await get(server.port, '/nowhere');
      assert.equal((await get(server.port, '/crash')).status, 502);
      // A response is counted when node:http closes it, which can come just after the client has it all.
      let after = await scrape();
      await until(
        async () => (after = await scrape()).get('nodicorn_requests_in_flight') === 0,
        'no request in flight',
      );
      assert.equal(
        (after.get('nodicorn_requests_total{status="200"}') ?? 0) -
          (before.get('nodicorn_requests_total{status="200"}') ?? 0),
        5,
      );
      assert.equal(after.get('nodicorn_requests_total{status="404"}'), 1);
      assert.equal(after.get('nodicorn_requests_total{status="502"}'), 1);
      assert.equal(after.get('nodicorn_worker_restarts_total{reason="crash"}'), 1);
      assert.ok((after.get('nodicorn_request_duration_seconds_count') ?? 0) >= 7);
      assert.equal((await get(port, '/other')).status, 404);
    },
  );
});

test("the process, the runtime, and each live Python worker's memory and CPU; a replaced worker's series go", async () => {
  const server = await startFaults();
  try {
    const port = await metricsPort(server);
    const scrape = async () => parsePrometheus((await get(port, '/metrics')).body);
    /** The pids that per-worker series of `name` are labelled with. */
    const pids = (samples: Map<string, number>, name: string) =>
      [...seriesOf(samples, name).keys()]
        .map((labels) => /^\{pid="(\d+)"\}$/.exec(labels)?.[1] ?? labels)
        .sort();

    // prom-client's default collectors, under their usual names.
    const samples = await scrape();
    assert.ok(samples.get('process_cpu_seconds_total')! > 0);
    assert.ok(samples.get('process_open_fds')! > 0);
    assert.ok(samples.get('process_max_fds')! >= samples.get('process_open_fds')!);
    const rss = samples.get('process_resident_memory_bytes')!;
    const node = memoryKiB(server.process.pid!) * 1024;
    assert.ok(rss > node / 2 && rss < node * 2, `process_resident_memory_bytes ${rss}, /proc says ${node}`);
    assert.ok(samples.get('nodejs_heap_size_used_bytes')! > 0);
    assert.ok(samples.get('nodejs_heap_size_total_bytes')! >= samples.get('nodejs_heap_size_used_bytes')!);
    assert.ok(samples.get('nodejs_eventloop_lag_seconds')! >= 0);
    assert.ok(samples.has('nodejs_eventloop_lag_p99_seconds'));
    // GC is reported once V8 has collected (booting usually does; each scrape allocates).
    await until(async () => {
      const gc = seriesOf(await scrape(), 'nodejs_gc_duration_seconds_count');
      return [...gc.values()].some((n) => n > 0);
    }, 'a nodejs_gc_duration_seconds sample');
    // nodicorn's own names are kept.
    assert.equal(samples.get('nodicorn_workers{state="idle"}'), 2);

    // One series of each per live worker, labelled by pid, matching /proc.
    const live = pythonWorkers(server).sort();
    assert.equal(live.length, 2);
    assert.deepEqual(pids(samples, 'nodicorn_worker_resident_memory_bytes'), live);
    assert.deepEqual(pids(samples, 'nodicorn_worker_cpu_seconds_total'), live);
    for (const pid of live) {
      const bytes = samples.get(`nodicorn_worker_resident_memory_bytes{pid="${pid}"}`)!;
      const kib = memoryKiB(Number(pid));
      assert.ok(
        bytes > (kib * 1024) / 2 && bytes < kib * 1024 * 2,
        `worker ${pid}: ${bytes} bytes, /proc says ${kib} KiB`,
      );
      assert.ok(
        samples.get(`nodicorn_worker_cpu_seconds_total{pid="${pid}"}`)! > 0,
        `worker ${pid} booted on no CPU`,
      );
    }

    // A request that burns 0.5 s of CPU in one worker shows in that worker's counter.
    const spun = (await get(server.port, '/spin/0.5')).body;
    const cpu = (s: Map<string, number>) => s.get(`nodicorn_worker_cpu_seconds_total{pid="${spun}"}`)!;
    const afterSpin = await scrape();
    assert.ok(
      cpu(afterSpin) - cpu(samples) >= 0.45,
      `worker ${spun}: ${cpu(samples)} s, then ${cpu(afterSpin)} s`,
    );

    // A worker killed and replaced: its series are gone, its replacement's are there.
    process.kill(Number(spun), 'SIGKILL');
    await server.waitForLog(`Worker (pid:${spun}) exited`);
    await until(
      async () => (await scrape()).get('nodicorn_workers{state="idle"}') === 2,
      'a replacement worker',
    );
    const replaced = pythonWorkers(server).sort();
    assert.ok(!replaced.includes(spun) && replaced.length === 2, `workers now: ${replaced.join(', ')}`);
    const after = await scrape();
    assert.deepEqual(pids(after, 'nodicorn_worker_resident_memory_bytes'), replaced);
    assert.deepEqual(pids(after, 'nodicorn_worker_cpu_seconds_total'), replaced);
  } finally {
    await server.stop();
  }
});
