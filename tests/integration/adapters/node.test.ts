/**
 * WSGI apps mounted in other people's Node servers: a Flask app under /py in real Express and real Fastify
 * (the CLI's worker pool), a TypeScript app in plain node:http. Every server and worker is stopped in
 * after(), and the workers' pids are checked to be gone.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { type PythonHandler, pythonWsgi, toNodeHandler } from '../../../src/adapters/node.js';
import type { Bytes, WsgiApp } from '../../../src/contract/types.js';
import { DEBIAN_PYTHON, requirePythonModules } from '../../helpers/debian-python.js';
import { fixtures } from '../../helpers/paths.js';
import { rawRequest } from '../../helpers/raw-http.js';

function flask(scriptName?: string): PythonHandler {
  return pythonWsgi({
    app: 'flask_app:app',
    chdir: `${fixtures}python`,
    python: DEBIAN_PYTHON,
    workers: 2,
    loglevel: 'warning',
    ...(scriptName === undefined ? {} : { scriptName }),
  });
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every pid the pool ever reported, checked after the test's close. */
const seenPids = new Set<number>();
function remember(handler: PythonHandler): void {
  for (const pid of handler.workerPids) seenPids.add(pid);
}

after(() => {
  const left = [...seenPids].filter(alive);
  assert.deepEqual(left, [], `worker processes left behind: ${left.join(', ')}`);
});

/** The Flask routes, the same through any host mounting the app at /py. */
async function flaskRoutes(base: string): Promise<void> {
  const index = await fetch(`${base}/py/`);
  assert.equal(index.status, 200);
  assert.equal(await index.text(), 'Hello from Flask');
  const user = await fetch(`${base}/py/user/caf%C3%A9?x=1`);
  assert.deepEqual(await user.json(), { name: 'café', args: { x: '1' }, script_root: '/py' });
  const json = await fetch(`${base}/py/json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ a: [1, 2], b: 'ü' }),
  });
  assert.deepEqual(await json.json(), { received: { a: [1, 2], b: 'ü' }, count: 2 });
  const missing = await fetch(`${base}/py/nope`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: 'not found', path: '/nope' });
  const teapot = await fetch(`${base}/py/teapot`);
  assert.equal(teapot.status, 418);
  const stream = await fetch(`${base}/py/stream`);
  assert.equal(await stream.text(), 'line 0\nline 1\nline 2\nline 3\nline 4\n');
}

describe('a Flask app under /py in Express', () => {
  let py: PythonHandler;
  let server: http.Server;
  let base: string;
  before(async () => {
    requirePythonModules('flask');
    py = flask();
    await py.ready();
    remember(py);
    const app = express();
    app.get('/hello', (_req, res) => {
      res.json({ from: 'express' });
    });
    app.use('/py', py);
    server = http.createServer(app);
    base = await listen(server);
  });
  after(async () => {
    await close(server);
    await py.close();
    assert.deepEqual(py.workerPids, []);
  });

  test('Express answers its own routes and Flask its own, Flask seeing SCRIPT_NAME=/py', async () => {
    assert.equal(py.workerPids.length, 2);
    const own = await fetch(`${base}/hello`);
    assert.deepEqual(await own.json(), { from: 'express' });
    await flaskRoutes(base);
  });

  test('a body parser that ran first is an error, not a hang', async () => {
    const app = express();
    app.use(express.json());
    app.use('/py', py);
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(error.message);
    });
    const other = http.createServer(app);
    const url = await listen(other);
    try {
      const response = await fetch(`${url}/py/json`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      assert.equal(response.status, 500);
      assert.match(await response.text(), /already read by another middleware/);
    } finally {
      await close(other);
    }
  });
});

describe('a Flask app under /py in Fastify', () => {
  let py: PythonHandler;
  const fastify = Fastify();
  let base: string;
  before(async () => {
    requirePythonModules('flask');
    // Fastify's raw request keeps its whole URL, so the mount point is given; the pool starts lazily.
    py = flask('/py');
    fastify.get('/hello', async () => ({ from: 'fastify' }));
    await fastify.register(async (scope) => {
      // The body stays unread for the WSGI app: no Fastify parser runs in this scope.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
      const forward = (request: FastifyRequest, reply: FastifyReply) => {
        reply.hijack();
        py(request.raw, reply.raw);
      };
      scope.all('/py', forward);
      scope.all('/py/*', forward);
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await fastify.close();
    await py.close();
    assert.deepEqual(py.workerPids, []);
  });

  test('Fastify answers its own routes and Flask its own; the pool starts with the first request', async () => {
    assert.deepEqual(py.workerPids, []);
    const own = await fetch(`${base}/hello`);
    assert.deepEqual(await own.json(), { from: 'fastify' });
    await flaskRoutes(base);
    assert.equal(py.workerPids.length, 2);
    remember(py);
  });
});

describe('pythonWsgi refuses what it cannot serve', () => {
  test('an app that cannot be imported: ready() rejects, requests get 503, no worker stays', async () => {
    const py = pythonWsgi({
      app: 'import_error:application',
      chdir: `${fixtures}python`,
      python: DEBIAN_PYTHON,
      loglevel: 'critical',
    });
    const server = http.createServer(py);
    const url = await listen(server);
    try {
      await assert.rejects(py.ready(), /could not be loaded[\s\S]*this_module_does_not_exist/);
      const response = await fetch(`${url}/`);
      assert.equal(response.status, 503);
      assert.deepEqual(py.workerPids, []);
    } finally {
      await close(server);
      await py.close();
    }
  });

  test('unknown settings and script references are errors at once', () => {
    assert.throws(
      () => pythonWsgi({ app: 'x:app', wrokers: 2 } as never),
      /"wrokers" is not a setting it takes; did you mean "workers"\?/,
    );
    assert.throws(() => pythonWsgi({ app: 'x:app', workers: 0 }), /workers/);
    assert.throws(() => pythonWsgi({ app: 'app.ts:app' }), /use toNodeHandler/);
  });
});

/** A TypeScript app that reports what it saw and streams its answer. */
const echo: WsgiApp = async (environ, startResponse) => {
  const body = await environ['wsgi.input'].read();
  startResponse('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
  const seen = `${environ.SCRIPT_NAME}|${environ.PATH_INFO}|${environ.QUERY_STRING}|${Buffer.from(body).toString()}`;
  return (async function* (): AsyncGenerator<Bytes> {
    yield Buffer.from(seen);
    yield Buffer.from('|streamed');
  })();
};

describe('a TypeScript app in plain node:http', () => {
  let server: http.Server;
  let base: string;
  const handler = toNodeHandler(echo, { scriptName: '/ts', loglevel: 'warning' });
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url?.startsWith('/ts')) return handler(req, res);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('node');
    });
    base = await listen(server);
  });
  after(async () => {
    await close(server);
    await handler.close();
  });

  test('the mount point becomes SCRIPT_NAME; the body is wsgi.input; the response streams', async () => {
    const response = await fetch(`${base}/ts/a%20b?q=1`, { method: 'POST', body: 'hello' });
    assert.equal(await response.text(), '/ts|/a b|q=1|hello|streamed');
    assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(await (await fetch(`${base}/other`)).text(), 'node');
  });

  test('the front checks hold: two Host headers are refused with 400', async () => {
    const { text } = await rawRequest(
      Number(new URL(base).port),
      'GET /ts/ HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
    );
    assert.match(text, /^HTTP\/1\.1 400 /);
  });
});
