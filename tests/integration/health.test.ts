/** --health-path: answered by the server before the app, 503 while draining, kept out of the access log. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures, repoRoot } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { metricsPort } from '../helpers/prometheus.js';
import { unreadByServer } from '../helpers/raw-http.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

function request(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject).end();
  });
}

test('a TypeScript app: 200 ok from the server itself, never the app, never in the access log', async () => {
  await withNodicorn(
    ['--health-path', '/healthz', '--access-logfile', '-', `${repoRoot}dist/examples/echo.js:app`],
    async (server) => {
      const ok = await get(server.port, '/healthz');
      assert.deepEqual([ok.status, ok.body, ok.headers['cache-control']], [200, 'ok\n', 'no-store']);
      const head = await request(server.port, 'HEAD', '/healthz');
      assert.deepEqual([head.status, head.body], [200, '']);
      assert.equal((await request(server.port, 'POST', '/healthz')).status, 405);
      // Only the exact path is the server's; anything else is the app's.
      assert.match((await get(server.port, '/healthz/deeper')).body, /"PATH_INFO":"\/healthz\/deeper"/);
      await server.waitForLog('"GET /healthz/deeper HTTP/1.1" 200');
      assert.doesNotMatch(server.log(), /"(GET|HEAD|POST) \/healthz HTTP/);
    },
  );
});

test('a Python app: 200 while workers serve, 503 while draining (on the app port and on --metrics-bind)', async () => {
  await withNodicorn(
    [
      '--chdir',
      `${fixtures}python`,
      'faults:application',
      '--health-path',
      '/healthz',
      '--metrics-bind',
      '127.0.0.1:0',
      '--graceful-timeout',
      '10',
    ],
    async (server) => {
      const metrics = await metricsPort(server);
      assert.equal((await get(server.port, '/healthz')).status, 200);
      assert.deepEqual(
        [(await get(metrics, '/healthz')).status, (await get(metrics, '/healthz')).body],
        [200, 'ok\n'],
      );
      // A slow request keeps the server draining. A health check whose head was half sent before SIGTERM
      // is answered 503 (and its connection closed), and so is one on the metrics server.
      const slow = get(server.port, '/announced-sleep/1.5');
      await server.waitForLog('sleeping 1.5 in');
      const probe = connect(server.port, '127.0.0.1');
      let answer = '';
      probe.on('data', (c: Buffer) => (answer += c.toString('latin1')));
      const closed = new Promise((r) => probe.on('close', r));
      await new Promise((r) => probe.once('connect', r));
      await new Promise((r) => probe.write('GET /healthz HTTP/1.1\r\nHo', r));
      await until(
        () => unreadByServer(server.port, probe.localPort!) === 0,
        'the server to read the half head',
      );
      const stopped = server.stop('SIGTERM');
      await server.waitForLog('Handling signal: term');
      const draining = await get(metrics, '/healthz');
      assert.deepEqual([draining.status, draining.body], [503, 'unavailable\n']);
      probe.write('st: x\r\n\r\n');
      await closed;
      assert.match(
        answer,
        /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\r\nConnection: close\r\n[\s\S]*\r\nunavailable\n$/,
      );
      assert.equal((await slow).status, 200);
      assert.equal(await stopped, 0);
    },
  );
});

test('--health-path must be a path', async () => {
  await assert.rejects(
    startNodicorn(['--health-path', 'healthz', 'examples/hello.ts:app'], { timeoutMs: 10_000 }),
    /--health-path: expected a path such as \/healthz/,
  );
});
