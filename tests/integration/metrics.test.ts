/** /metrics on --metrics-bind: Prometheus text whose counters move as requests are served. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { metricsPort, parsePrometheus } from '../helpers/prometheus.js';
import { withNodicorn } from '../helpers/server.js';

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
