/** Responses (src/toolkit/response.ts): streamed bodies and close(), files, redirects, bodiless statuses. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../../src/testing/client.js';
import { Response } from '../../../src/toolkit/response.js';

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

test('204 and 304 responses carry no Content-Length (RFC 9110 §8.6)', async () => {
  for (const status of [204, 304]) {
    const res = await request(new Response(null, { status }));
    assert.equal(res.statusCode, status);
    assert.equal(res.header('Content-Length'), null, String(status));
  }
  assert.equal((await request(new Response(null, { status: 200 }))).header('Content-Length'), '0');
});
