/** The Hono example through the real nodicorn server: `nodicorn examples/hono-app.ts:app`. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RunningNodicorn, startNodicorn } from '../../helpers/server.js';

let server: RunningNodicorn;
before(async () => {
  server = await startNodicorn(['examples/hono-app.ts:app']);
});
after(() => server.stop());

test('a plain route', async () => {
  const response = await fetch(`${server.url}/`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assert.equal(await response.text(), 'Hello from Hono');
});

test('path parameters with a pattern, and the query string', async () => {
  const response = await fetch(`${server.url}/users/42?q=caf%C3%A9`);
  assert.deepEqual(await response.json(), { id: 42, q: 'café' });
  const notDigits = await fetch(`${server.url}/users/abc`);
  assert.equal(notDigits.status, 404);
  assert.deepEqual(await notDigits.json(), { error: 'not found', path: '/users/abc' });
});

test('a JSON request body, a chosen status and a header', async () => {
  const response = await fetch(`${server.url}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ a: [1, 2], b: 'ü' }),
  });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get('x-echo'), 'yes');
  assert.deepEqual(await response.json(), { received: { a: [1, 2], b: 'ü' } });
});

test('several cookies set, one sent back, one deleted', async () => {
  const login = await fetch(`${server.url}/login`);
  const cookies = login.headers.getSetCookie();
  assert.deepEqual(cookies, ['session=abc123; Path=/; HttpOnly', 'theme=dark; Max-Age=3600; Path=/']);
  const whoami = await fetch(`${server.url}/whoami`, { headers: { cookie: 'session=abc123; theme=dark' } });
  assert.deepEqual(await whoami.json(), { session: 'abc123' });
  const logout = await fetch(`${server.url}/logout`);
  assert.equal(logout.status, 204);
  assert.match(logout.headers.getSetCookie()[0] ?? '', /^session=; Max-Age=0; Path=\//);
});

test("Hono's own error statuses and the WSGI environ as c.env", async () => {
  const teapot = await fetch(`${server.url}/teapot`);
  assert.equal(teapot.status, 418);
  assert.equal(await teapot.text(), 'short and stout');
  const mount = await fetch(`${server.url}/mount`);
  assert.deepEqual(await mount.json(), { scriptName: '' });
  const wrongMethod = await fetch(`${server.url}/echo`);
  assert.equal(wrongMethod.status, 404);
});
