/**
 * The queue Gunicorn does not have: --max-queue, --queue-timeout, the queue-wait histogram, --max-workers
 * autoscaling and --max-worker-memory, against the real server and real Python workers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { pythonWorkers, until } from '../helpers/processes.js';
import { metricsPort, parsePrometheus } from '../helpers/prometheus.js';
import { type RunningNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;

async function scraper(server: RunningNodicorn): Promise<() => Promise<Map<string, number>>> {
  const port = await metricsPort(server);
  return async () => parsePrometheus((await get(port, '/metrics')).body);
}

/**
 * A first slow request teaches the worker its requests are slow, so none is batched into it behind a
 * running one (see MAX_PREFETCH in dispatch-queue.ts): every later request waits in the pool's queue.
 */
const WARM_UP = '/sleep/0.3';

test('--max-queue: past N waiting requests, 503 with Retry-After at once; the queued ones are served', async () => {
  await withNodicorn(
    ['--chdir', PY, 'queueing:application', '-w', '1', '--max-queue', '2', '--metrics-bind', '127.0.0.1:0'],
    async (server) => {
      const scrape = await scraper(server);
      assert.equal((await get(server.port, WARM_UP)).status, 200);
      const running = get(server.port, '/sleep/2');
      await until(
        async () => (await scrape()).get('nodicorn_workers{state="busy"}') === 1,
        'a busy worker',
        30_000,
      );
      const queued = [get(server.port, '/sleep/0'), get(server.port, '/sleep/0')];
      await until(
        async () => (await scrape()).get('nodicorn_queue_depth') === 2,
        'two queued requests',
        30_000,
      );
      const refused = await get(server.port, '/sleep/0');
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.body, 'Service Unavailable\n');
      for (const response of await Promise.all([running, ...queued])) assert.equal(response.status, 200);
      const after = await scrape();
      assert.equal(after.get('nodicorn_requests_shed_total{reason="queue_full"}'), 1);
      // The queue-wait histogram moved: all four served requests are in it, the refused one is not.
      assert.equal(after.get('nodicorn_queue_wait_seconds_count'), 4);
      assert.ok(after.get('nodicorn_queue_wait_seconds_sum')! > 0);
      assert.ok(
        after.get('nodicorn_queue_wait_seconds_bucket{le="0.001"}')! < 4,
        'the two queued requests waited for the running one',
      );
    },
  );
});

test('--queue-timeout: a request that waited too long gets 503 and the app never sees it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-queue-'));
  const seen = join(dir, 'seen');
  await withNodicorn(
    [
      '--chdir',
      PY,
      'queueing:application',
      '-w',
      '1',
      '--queue-timeout',
      '0.5',
      '--metrics-bind',
      '127.0.0.1:0',
      '--access-logfile',
      '-',
      '--access-logformat',
      '%(U)s %(s)s wait=%(W)s',
    ],
    async (server) => {
      const scrape = await scraper(server);
      assert.equal((await get(server.port, WARM_UP)).status, 200);
      const running = get(server.port, '/sleep/3');
      await until(
        async () => (await scrape()).get('nodicorn_workers{state="busy"}') === 1,
        'a busy worker',
        30_000,
      );
      const shed = await get(server.port, '/pid/shed');
      assert.equal(shed.status, 503);
      assert.equal(shed.headers['retry-after'], '1');
      assert.equal((await running).status, 200);
      // A request sent after it reaches the app; the shed one never did (the app logs each it starts).
      assert.equal((await get(server.port, '/pid/after')).status, 200);
      assert.deepEqual(readFileSync(seen, 'utf8').trim().split('\n'), [WARM_UP, '/sleep/3', '/pid/after']);
      assert.equal((await scrape()).get('nodicorn_requests_shed_total{reason="queue_timeout"}'), 1);
      await server.waitForLog(/\/pid\/after 200 wait=\d+\.\d{3}\n/);
      // Its wait is logged: at least the timeout (the log shows ms).
      const wait = Number(/\/pid\/shed 503 wait=(\d+\.\d{3})\n/.exec(server.log())?.[1]);
      assert.ok(wait >= 500, `shed after ${wait} ms`);
    },
    { env: { SEEN_LOG: seen } },
  );
});

test('--max-workers: a slow app under load scales up to the ceiling, and back to -w once idle', async () => {
  await withNodicorn(
    ['--chdir', PY, 'queueing:application', '-w', '1', '--max-workers', '3', '--scale-down-delay', '0.5'],
    async (server) => {
      assert.equal((await get(server.port, WARM_UP)).status, 200);
      assert.equal(pythonWorkers(server).length, 1);
      // Six clients, each sending its next request as soon as the last is answered, until the pool has
      // grown: the queue stays busy however long a worker takes to boot on a loaded machine.
      let loading = true;
      const pids = new Set<string>();
      const client = async () => {
        while (loading) {
          const response = await get(server.port, '/sleep/0.3');
          assert.equal(response.status, 200);
          pids.add(response.body);
        }
      };
      const clients = Array.from({ length: 6 }, client);
      try {
        await until(
          () => pythonWorkers(server).length === 3,
          `3 workers (now ${pythonWorkers(server).length})`,
          60_000,
        );
      } finally {
        loading = false;
        await Promise.all(clients);
      }
      assert.ok(pids.size >= 2, `served by ${pids.size} workers`);
      await server.waitForLog('Scaling down: workers 1');
      await until(
        () => pythonWorkers(server).length === 1,
        `1 worker (now ${pythonWorkers(server).length})`,
        30_000,
      );
      assert.match(server.log(), /Scaling up: workers 3/);
      assert.doesNotMatch(server.log(), /Scaling up: workers 4/);
      assert.equal((await get(server.port, '/pid')).status, 200);
    },
  );
});

test('--max-worker-memory: a worker that grows past it is replaced after its request, which succeeds', async () => {
  await withNodicorn(
    [
      '--chdir',
      PY,
      'queueing:application',
      '-w',
      '1',
      '--max-worker-memory',
      '150M',
      '--metrics-bind',
      '127.0.0.1:0',
    ],
    async (server) => {
      const scrape = await scraper(server);
      const before = (await get(server.port, '/pid')).body;
      // 200 MiB kept, then 2.5 s more in the request: the once-a-second sample sees it while it runs.
      const grown = await get(server.port, '/grow/200/2.5');
      assert.equal(grown.status, 200);
      assert.equal(grown.body, before);
      await server.waitForLog(
        new RegExp(`Worker \\(pid:${before}\\) uses \\d+ MiB, past --max-worker-memory \\(150 MiB\\)`),
      );
      await until(async () => (await get(server.port, '/pid')).body !== before, 'a new worker', 30_000);
      assert.equal((await scrape()).get('nodicorn_worker_restarts_total{reason="memory"}'), 1);
      assert.doesNotMatch(server.log(), /exited \(/, 'retired, not crashed');
    },
  );
});
