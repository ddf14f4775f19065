/** The toolkit example app through the real server: routes, JSON, cookies, gzip, static files, traversal. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { rawRequest } from '../../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../../helpers/server.js';

let server: RunningNodicorn;
before(async () => {
  server = await startNodicorn(['dist/examples/toolkit-app.js:app']);
});
after(() => server.stop());

test('routes with parameters and JSON bodies', async () => {
  const hello = await fetch(`${server.url}/api/hello/ada`);
  assert.deepEqual(await hello.json(), { hello: { name: 'ada' } });
  const echo = await fetch(`${server.url}/api/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ a: [1, 2] }),
  });
  assert.deepEqual(await echo.json(), { got: { a: [1, 2] } });
  const wrong = await fetch(`${server.url}/api/echo`);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'OPTIONS, POST');
});

test('static files with gzip when accepted, and a cookie set', async () => {
  const page = await fetch(`${server.url}/static/`, { headers: { 'accept-encoding': 'identity' } });
  assert.match(await page.text(), /static files middleware/);
  const css = await fetch(`${server.url}/static/site.css`);
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  const cookie = await fetch(`${server.url}/api/cookie`, { headers: { cookie: 'a=1' } });
  assert.equal(await cookie.text(), 'you sent {"a":"1"}');
  assert.match(cookie.headers.get('set-cookie') ?? '', /^seen=1; HttpOnly/);
});

test('encoded .. on the wire never leaves the static root', async () => {
  for (const target of [
    '/static/%2e%2e/%2e%2e/package.json',
    '/static/..%2f..%2fpackage.json',
    '/static/../package.json',
  ]) {
    const { text: raw } = await rawRequest(
      server.port,
      `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.doesNotMatch(raw, /"name": "nodicorn"/, target);
    assert.match(raw, /^HTTP\/1\.1 (404|400)/, target);
  }
});

test('gzip for a client that accepts it', async () => {
  const { request } = await import('node:http');
  const body = await new Promise<Buffer>((resolve, reject) => {
    request(`${server.url}/static/`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      assert.equal(res.headers['content-encoding'], 'gzip');
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
    })
      .on('error', reject)
      .end();
  });
  assert.match(gunzipSync(body).toString(), /static files middleware/);
});
