/** Request views (headers, query, cookies, JSON, forms, multipart, limits), responses and gzip, via the test client. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { WsgiApp } from '../../../src/contract/types.js';
import { request } from '../../../src/testing/client.js';
import { gzip } from '../../../src/toolkit/gzip.js';
import { serveHttpErrors } from '../../../src/toolkit/http-errors.js';
import { Request } from '../../../src/toolkit/request.js';
import { Response } from '../../../src/toolkit/response.js';

/** An app that answers with what `view` reads off the Request, errors served as their status. */
const viewing = (view: (r: Request) => Promise<unknown> | unknown, limits = {}): WsgiApp =>
  serveHttpErrors(async (environ, startResponse) =>
    Response.json(await view(new Request(environ, limits)))(environ, startResponse),
  );

test('method, path, query, headers case-insensitively, cookies, URL', async () => {
  const res = await request(
    viewing((r) => ({
      method: r.method,
      path: r.path,
      q: r.query.getAll('q'),
      agent: r.headers.get('USER-AGENT'),
      missing: r.headers.get('x-none'),
      cookies: r.cookies,
      url: r.url,
    })),
    {
      path: '/a%20b?q=1&q=2',
      headers: { 'User-Agent': 'test', Cookie: 'a=1; b=hello%20world' },
      host: 'example.com:8080',
    },
  );
  assert.deepEqual(res.json(), {
    method: 'GET',
    path: '/a b',
    q: ['1', '2'],
    agent: 'test',
    missing: null,
    cookies: { a: '1', b: 'hello world' },
    url: 'http://example.com:8080/a%20b?q=1&q=2',
  });
});

test('JSON bodies: parsed, 415 when not declared JSON, 400 when broken', async () => {
  const app = viewing((r) => r.json());
  assert.deepEqual((await request(app, { json: { a: 1 } })).json(), { a: 1 });
  assert.equal(
    (await request(app, { body: '{"a":1}', headers: { 'Content-Type': 'text/plain' } })).statusCode,
    415,
  );
  assert.equal(
    (await request(app, { body: '{broken', headers: { 'Content-Type': 'application/json' } })).statusCode,
    400,
  );
});

test('forms: urlencoded and multipart with a file; 413 past the body limit', async () => {
  const app = viewing(async (r) => {
    const form = await r.form();
    const files = [...form.files.values()].flat();
    return {
      fields: [...form.fields],
      files: files.map((f) => ({ name: f.filename, type: f.type, text: Buffer.from(f.data).toString() })),
    };
  });
  const urlencoded = await request(app, {
    body: 'a=1&b=caf%C3%A9',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.deepEqual(urlencoded.json(), {
    fields: [
      ['a', '1'],
      ['b', 'café'],
    ],
    files: [],
  });
  const boundary = 'XyZ';
  const body =
    `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n` +
    `--${boundary}--\r\n`;
  const multipart = await request(app, {
    body,
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
  });
  assert.deepEqual(multipart.json(), {
    fields: [['title', 'hello']],
    files: [{ name: 'a.txt', type: 'text/plain', text: 'file body' }],
  });
  const small = viewing((r) => r.text(), { maxBodySize: 10 });
  assert.equal((await request(small, { body: 'x'.repeat(11) })).statusCode, 413);
  assert.equal((await request(small, { body: 'x'.repeat(10) })).json(), 'x'.repeat(10));
});

test('responses: streaming bodies with close(), files through wsgi.file_wrapper, redirects', async () => {
  let closed = false;
  const stream = new Response({
    *[Symbol.iterator]() {
      yield 'a';
      yield new Uint8Array([98]);
    },
    close() {
      closed = true;
    },
  });
  const streamed = await request(stream);
  assert.equal(streamed.text(), 'ab');
  assert.equal(streamed.header('Content-Length'), null);
  assert.ok(closed);
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-response-'));
  writeFileSync(join(dir, 'f.bin'), 'file bytes');
  const file = new Response((environ) => environ['wsgi.file_wrapper']!({ path: join(dir, 'f.bin') }));
  assert.equal((await request(file)).text(), 'file bytes');
  const redirect = await request(Response.redirect('/elsewhere', 303));
  assert.equal(redirect.status, '303 See Other');
  assert.equal(redirect.header('Location'), '/elsewhere');
});

test('gzip: compressed when accepted and worth it, untouched otherwise', async () => {
  const big = 'compress me '.repeat(200);
  const app = gzip()(new Response(big, { headers: [['Content-Type', 'text/plain']] }));
  const zipped = await request(app, { headers: { 'Accept-Encoding': 'gzip, br' } });
  assert.equal(zipped.header('Content-Encoding'), 'gzip');
  assert.equal(zipped.header('Vary'), 'Accept-Encoding');
  assert.equal(gunzipSync(zipped.body).toString(), big);
  assert.equal(Number(zipped.header('Content-Length')), zipped.body.length);
  const plain = await request(app, { headers: { 'Accept-Encoding': 'identity' } });
  assert.equal(plain.header('Content-Encoding'), null);
  assert.equal(plain.text(), big);
  const refused = await request(app, { headers: { 'Accept-Encoding': 'gzip;q=0' } });
  assert.equal(refused.header('Content-Encoding'), null);
  const tiny = await request(gzip()(new Response('hi', { headers: [['Content-Type', 'text/plain']] })), {
    headers: { 'Accept-Encoding': 'gzip' },
  });
  assert.equal(tiny.header('Content-Encoding'), null);
});

test('204 and 304 responses carry no Content-Length (RFC 9110 §8.6)', async () => {
  for (const status of [204, 304]) {
    const res = await request(new Response(null, { status }));
    assert.equal(res.statusCode, status);
    assert.equal(res.header('Content-Length'), null, String(status));
  }
  assert.equal((await request(new Response(null, { status: 200 }))).header('Content-Length'), '0');
});
