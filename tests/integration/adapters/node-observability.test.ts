/**
 * Apps mounted through the Node adapter are observed as the CLI's are: their requests are published on the
 * request channels, written to the access log (`accesslog`), counted on /metrics (`metrics_bind`) and
 * given to the request hooks; requests the checks refuse too. A TypeScript app in plain node:http, a Flask
 * app in Express. Every server, worker and metrics endpoint is stopped in the test that starts it.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import express from 'express';
import { pythonWsgi, toNodeHandler } from '../../../src/adapters/node.js';
import type { WsgiApp } from '../../../src/contract/types.js';
import { REQUEST_FINISH, type RequestRecord } from '../../../src/observability/channels.js';
import { createLogger } from '../../../src/observability/logger.js';
import { DEBIAN_PYTHON, requirePythonModules } from '../../helpers/debian-python.js';
import { fixtures } from '../../helpers/paths.js';
import { until } from '../../helpers/processes.js';
import { parsePrometheus } from '../../helpers/prometheus.js';
import { rawRequest } from '../../helpers/raw-http.js';

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** GET over a Unix socket: status and body. */
function getUnix(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function scrape(socketPath: string): Promise<Map<string, number>> {
  const response = await getUnix(socketPath, '/metrics');
  assert.equal(response.status, 200);
  return parsePrometheus(response.body);
}

/** A scrape once no request is in flight (a response is counted when node:http closes it). */
async function settledMetrics(socketPath: string): Promise<Map<string, number>> {
  let metrics = await scrape(socketPath);
  await until(async () => {
    metrics = await scrape(socketPath);
    return metrics.get('nodicorn_requests_in_flight') === 0;
  }, 'no request in flight');
  return metrics;
}

const lines = (path: string) =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

/** Answers 200 on /ts/hello and 404 elsewhere, with what pre_request added to the environ. */
const small: WsgiApp = (environ, startResponse) => {
  const found = environ.PATH_INFO === '/hello';
  startResponse(found ? '200 OK' : '404 Not Found', [['Content-Type', 'text/plain']]);
  return [Buffer.from(`${environ.HTTP_X_PRE ?? 'no pre_request'}`)];
};

test('a TypeScript app in node:http: access log, /metrics and the request hooks see its requests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-mounted-'));
  const accessLog = join(dir, 'access.log');
  const metricsSocket = join(dir, 'metrics.sock');
  const finished: Array<[string, number]> = [];
  const errors: string[] = [];
  const handler = toNodeHandler(small, {
    scriptName: '/ts',
    log: createLogger({ write: (text: string) => errors.push(text) }, 'info'),
    accesslog: accessLog,
    metrics_bind: `unix:${metricsSocket}`,
    pre_request: (environ) => {
      environ.HTTP_X_PRE = 'pre_request ran';
    },
    post_request: (environ, status) => {
      finished.push([environ.PATH_INFO!, status]);
    },
  });
  const server = http.createServer(handler);
  try {
    const port = await listen(server);
    await handler.ready();
    const hello = await fetch(`http://127.0.0.1:${port}/ts/hello?x=1`);
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), 'pre_request ran');
    assert.equal((await fetch(`http://127.0.0.1:${port}/ts/missing`)).status, 404);
    // Refused by the checks before the app: in the access log and the metrics, not in post_request.
    const { text } = await rawRequest(
      port,
      'GET /ts/refused HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
    );
    assert.match(text, /^HTTP\/1\.1 400 /);

    await until(() => lines(accessLog).length === 3, 'three access log lines');
    const [first, second, third] = lines(accessLog);
    assert.match(first!, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ts\/hello\?x=1 HTTP\/1\.1" 200 15 /);
    assert.match(second!, /"GET \/ts\/missing HTTP\/1\.1" 404 /);
    assert.match(third!, /"GET \/ts\/refused HTTP\/1\.1" 400 /);
    assert.ok(
      errors.some((line) => /Refused GET \/ts\/refused from 127\.0\.0\.1: 400 more than one Host/.test(line)),
    );

    const metrics = await settledMetrics(metricsSocket);
    assert.equal(metrics.get('nodicorn_requests_total{status="200"}'), 1);
    assert.equal(metrics.get('nodicorn_requests_total{status="404"}'), 1);
    assert.equal(metrics.get('nodicorn_requests_total{status="400"}'), 1);
    assert.equal(metrics.get('nodicorn_request_duration_seconds_count'), 3);

    assert.deepEqual(finished, [
      ['/hello', 200],
      ['/missing', 404],
    ]);
  } finally {
    await close(server);
    await handler.close();
  }
  // close() stops /metrics with the handler.
  await assert.rejects(getUnix(metricsSocket, '/metrics'), /ENOENT|ECONNREFUSED/);
  rmSync(dir, { recursive: true, force: true });
});

test('a mounted app publishes on the request channels, for any subscriber in the process', async () => {
  const handler = toNodeHandler(small, { loglevel: 'warning' });
  const server = http.createServer(handler);
  const seen: RequestRecord[] = [];
  const onFinish = (message: unknown) => seen.push(message as RequestRecord);
  diagnosticsChannel.subscribe(REQUEST_FINISH, onFinish);
  try {
    const port = await listen(server);
    const response = await fetch(`http://127.0.0.1:${port}/hello`, { headers: { 'user-agent': 'probe' } });
    assert.equal(response.status, 200);
    await response.text();
    await until(() => seen.length === 1, 'the request to finish on the channel');
    const [record] = seen;
    assert.equal(record!.refused, false);
    assert.equal(record!.status, 200);
    assert.equal(record!.environ.PATH_INFO, '/hello');
    assert.equal(record!.environ.HTTP_USER_AGENT, 'probe');
  } finally {
    diagnosticsChannel.unsubscribe(REQUEST_FINISH, onFinish);
    await close(server);
    await handler.close();
  }
});

test("a Flask app under /py in Express: access log and /metrics, with the pool's workers", async () => {
  requirePythonModules('flask');
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-mounted-'));
  const accessLog = join(dir, 'access.log');
  const metricsSocket = join(dir, 'metrics.sock');
  const py = pythonWsgi({
    app: 'flask_app:app',
    chdir: `${fixtures}python`,
    python: DEBIAN_PYTHON,
    workers: 2,
    loglevel: 'warning',
    accesslog: accessLog,
    access_log_format: 'json',
    metrics_bind: `unix:${metricsSocket}`,
  });
  const app = express();
  app.use('/py', py);
  const server = http.createServer(app);
  try {
    await py.ready();
    const port = await listen(server);
    assert.equal((await fetch(`http://127.0.0.1:${port}/py/`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/py/nope`)).status, 404);

    await until(() => lines(accessLog).length === 2, 'two access log lines');
    const logged = lines(accessLog).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      logged.map((entry) => [entry.method, entry.path, entry.status]),
      [
        ['GET', '/py/', 200],
        ['GET', '/py/nope', 404],
      ],
    );

    const metrics = await settledMetrics(metricsSocket);
    assert.equal(metrics.get('nodicorn_requests_total{status="200"}'), 1);
    assert.equal(metrics.get('nodicorn_requests_total{status="404"}'), 1);
    assert.equal(metrics.get('nodicorn_workers{state="idle"}'), 2);
    assert.equal(metrics.get('nodicorn_queue_wait_seconds_count'), 2);
  } finally {
    await close(server);
    await py.close();
  }
  assert.deepEqual(py.workerPids, []);
  rmSync(dir, { recursive: true, force: true });
});
