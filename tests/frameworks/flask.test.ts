/** A real Flask app under nodicorn: routes, JSON, form + file upload, streaming, error handlers. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEBIAN_PYTHON, requirePythonModules } from '../helpers/debian-python.js';
import { fixtures } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

let server: RunningNodicorn;
before(async () => {
  requirePythonModules('flask');
  server = await startNodicorn([
    '--python',
    DEBIAN_PYTHON,
    '--chdir',
    `${fixtures}python`,
    'flask_app:app',
    '-w',
    '2',
  ]);
});
after(() => server?.stop());

test('a plain route', async () => {
  const response = await fetch(`${server.url}/`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await response.text(), 'Hello from Flask');
});

test('a route with a parameter and a query string, answered in JSON', async () => {
  const response = await fetch(`${server.url}/user/caf%C3%A9?x=1&y=two`);
  assert.deepEqual(await response.json(), { name: 'café', args: { x: '1', y: 'two' }, script_root: '' });
});

test('a JSON request body', async () => {
  const response = await fetch(`${server.url}/json`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ a: [1, 2, 3], b: 'ü' }),
  });
  assert.deepEqual(await response.json(), { received: { a: [1, 2, 3], b: 'ü' }, count: 2 });
});

test('a multipart form with a file upload', async () => {
  const form = new FormData();
  form.set('title', 'report');
  const content = `0123456789${'z'.repeat(200_000)}`;
  form.set('document', new Blob([content], { type: 'text/plain' }), 'report.txt');
  const response = await fetch(`${server.url}/upload`, { method: 'POST', body: form });
  assert.deepEqual(await response.json(), {
    title: 'report',
    filename: 'report.txt',
    size: content.length,
    head: '0123456789',
  });
});

/** A request body sent with Transfer-Encoding: chunked (fetch does so for a stream), one chunk per part. */
function chunked(parts: readonly string[]): RequestInit {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
  return { method: 'POST', body, duplex: 'half' } as RequestInit;
}

test('a chunked upload: request.get_data() has it all, and CONTENT_LENGTH says its length', async () => {
  // Small (held in memory) and past --body-memory-limit (spooled to a file before the worker sees it).
  for (const size of [30, 1_500_000]) {
    const parts = ['0123456789', 'x'.repeat(size - 20), '0123456789'];
    const response = await fetch(`${server.url}/data`, chunked(parts));
    assert.deepEqual(await response.json(), {
      size,
      head: '0123456789',
      content_length: String(size),
      transfer_encoding: 'chunked',
      input_terminated: true,
    });
  }
});

test('a streamed response goes out chunked', async () => {
  const { text } = await rawRequest(server.port, 'GET /stream HTTP/1.1\r\nHost: flask.test\r\n\r\n');
  assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
  const response = await fetch(`${server.url}/stream`);
  assert.equal(await response.text(), 'line 0\nline 1\nline 2\nline 3\nline 4\n');
});

test('error handlers: a custom exception, a 404, and an unhandled error', async () => {
  const teapot = await fetch(`${server.url}/teapot`);
  assert.equal(teapot.status, 418);
  assert.deepEqual(await teapot.json(), { error: 'short and stout' });
  const missing = await fetch(`${server.url}/nowhere`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: 'not found', path: '/nowhere' });
  const boom = await fetch(`${server.url}/boom`);
  assert.equal(boom.status, 500);
  await server.waitForLog(/ValueError: unhandled in a view/);
});
