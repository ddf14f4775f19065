/** Request views (src/toolkit/request.ts): headers, query, cookies, JSON, forms, limits, via the test client. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WsgiApp } from '../../../src/contract/types.js';
import { request } from '../../../src/testing/client.js';
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
