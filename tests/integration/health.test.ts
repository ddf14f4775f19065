/** --health-path: answered by the server before the app, 503 while draining, kept out of the access log. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures, repoRoot } from '../helpers/paths.js';
import { metricsPort } from '../helpers/prometheus.js';
import { startNodicorn } from '../helpers/server.js';

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
  const server = await startNodicorn([
    '--health-path',
    '/healthz',
    '--access-logfile',
    '-',
    `${repoRoot}dist/examples/echo.js:app`,
  ]);
  try {
    const ok = await get(server.port, '/healthz');
    assert.deepEqual([ok.status, ok.body, ok.headers['cache-control']], [200, 'ok\n', 'no-store']);
    const head = await request(server.port, 'HEAD', '/healthz');
    assert.deepEqual([head.status, head.body], [200, '']);
    assert.equal((await request(server.port, 'POST', '/healthz')).status, 405);
    // Only the exact path is the server's; anything else is the app's.
    assert.match((await get(server.port, '/healthz/deeper')).body, /"PATH_INFO":"\/healthz\/deeper"/);
    await server.waitForLog('"GET /healthz/deeper HTTP/1.1" 200');
    assert.doesNotMatch(server.log(), /"(GET|HEAD|POST) \/healthz HTTP/);
  } finally {
    await server.stop();
  }
});

test('a Python app: 200 while workers serve, 503 while draining (on the app port and on --metrics-bind)', async () => {
  const server = await startNodicorn([
    '--chdir',
    `${fixtures}python`,
    'faults:application',
    '--health-path',
    '/healthz',
    '--metrics-bind',
    '127.0.0.1:0',
    '--graceful-timeout',
    '10',
  ]);
  try {
    const metrics = await metricsPort(server);
    assert.equal((await get(server.port, '/healthz')).status, 200);
    assert.deepEqual(
      [(await get(metrics, '/healthz')).status, (await get(metrics, '/healthz')).body],
      [200, 'ok\n'],
    );
    // A slow request keeps the server draining. A health check whose head was half sent before SIGTERM
    // is answered 503 (and its connection closed), and so is one on the metrics server.
    const slow = get(server.port, '/sleep/1.5');
    const probe = connect(server.port, '127.0.0.1');
    let answer = '';
    probe.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    const closed = new Promise((r) => probe.on('close', r));
    await new Promise((r) => probe.once('connect', r));
    probe.write('GET /healthz HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 300));
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
  } finally {
    await server.stop();
  }
});

test('--health-path must be a path', async () => {
  await assert.rejects(
    startNodicorn(['--health-path', 'healthz', 'examples/hello.ts:app'], { timeoutMs: 10_000 }),
    /--health-path: expected a path such as \/healthz/,
  );
});
