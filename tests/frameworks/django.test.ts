/** A real Django project under nodicorn: a view, a CSRF-protected form POST, the admin login page. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEBIAN_PYTHON, requirePythonModules } from '../helpers/debian-python.js';
import { fixtures } from '../helpers/paths.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

let server: RunningNodicorn;
before(async () => {
  requirePythonModules('django');
  server = await startNodicorn([
    '--python',
    DEBIAN_PYTHON,
    '--chdir',
    `${fixtures}python`,
    'django_app:application',
    '-w',
    '2',
  ]);
});
after(() => server?.stop());

test('a view', async () => {
  const response = await fetch(`${server.url}/`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'Hello from Django');
});

test('the request as Django sees it', async () => {
  const response = await fetch(`${server.url}/info/?q=a%20b`);
  assert.deepEqual(await response.json(), {
    path: '/info/',
    path_info: '/info/',
    script_name: '',
    scheme: 'http',
    host: `127.0.0.1:${server.port}`,
    query: { q: 'a b' },
  });
});

test('a form POST with its CSRF token is accepted; without it, refused with 403', async () => {
  const page = await fetch(`${server.url}/form/`);
  const cookie = page.headers
    .getSetCookie()
    .find((c) => c.startsWith('csrftoken='))!
    .split(';')[0]!;
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await page.text())![1]!;
  const accepted = await fetch(`${server.url}/form/`, {
    method: 'POST',
    headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrfmiddlewaretoken: token, name: 'Ada' }),
  });
  assert.equal(accepted.status, 200);
  assert.equal(await accepted.text(), 'Thanks, Ada');
  const refused = await fetch(`${server.url}/form/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name: 'Mallory' }),
  });
  assert.equal(refused.status, 403);
});

test('a chunked form POST: Django reads CONTENT_LENGTH bytes, and nodicorn sets it to what arrived', async () => {
  const page = await fetch(`${server.url}/form/`);
  const cookie = page.headers
    .getSetCookie()
    .find((c) => c.startsWith('csrftoken='))!
    .split(';')[0]!;
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await page.text())![1]!;
  const form = new URLSearchParams({ csrfmiddlewaretoken: token, name: 'Ada Lovelace' }).toString();
  // Sent in three chunks with Transfer-Encoding: chunked (fetch does so for a stream), no Content-Length:
  // without one Django sees an empty body, so no CSRF token and a 403.
  const parts = [form.slice(0, 10), form.slice(10, 40), form.slice(40)];
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
  const response = await fetch(`${server.url}/form/`, {
    method: 'POST',
    headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
    duplex: 'half',
  } as RequestInit);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'Thanks, Ada Lovelace');
});

test('the admin login page renders from its templates', async () => {
  const response = await fetch(`${server.url}/admin/login/?next=/admin/`);
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.match(html, /<title>Log in \| Django site admin<\/title>/);
  assert.match(html, /name="csrfmiddlewaretoken"/);
  const redirect = await fetch(`${server.url}/admin/`, { redirect: 'manual' });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'), '/admin/login/?next=/admin/');
});
