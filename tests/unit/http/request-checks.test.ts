import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRequestHead } from '../../../src/http/request-checks.js';

const limits = { requestLine: 100, fields: 3, fieldSize: 50, body: 1000 };
const status = (method: string, url: string, version: string, headers: string[]) => {
  const r = checkRequestHead(method, url, version, headers, limits);
  return r.ok ? 'ok' : r.rejection.status;
};

test('accepts a plain request', () => {
  assert.equal(status('GET', '/', '1.1', ['Host', 'h']), 'ok');
  assert.equal(status('GET', '/', '1.0', []), 'ok');
});

test('limits: 414 for the line, 431 for count and size, 413 for a declared body', () => {
  assert.equal(status('GET', `/${'a'.repeat(100)}`, '1.1', ['Host', 'h']), 414);
  assert.equal(status('GET', '/', '1.1', ['Host', 'h', 'A', '1', 'B', '2', 'C', '3']), 431);
  assert.equal(status('GET', '/', '1.1', ['Host', 'h', 'X', 'v'.repeat(60)]), 431);
  assert.equal(status('POST', '/', '1.1', ['Host', 'h', 'Content-Length', '1001']), 413);
  assert.equal(status('POST', '/', '1.1', ['Host', 'h', 'Content-Length', '1000']), 'ok');
});

test('RFC 9112 Host rules, duplicate Content-Type, versions and transfer codings', () => {
  assert.equal(status('GET', '/', '1.1', []), 400);
  assert.equal(status('GET', '/', '1.1', ['Host', 'a', 'host', 'b']), 400);
  assert.equal(status('GET', '/', '1.0', ['Host', 'a', 'Host', 'b']), 400);
  assert.equal(status('POST', '/', '1.1', ['Host', 'h', 'Content-Type', 'a', 'Content-Type', 'b']), 400);
  assert.equal(status('GET', '/', '2.0', ['Host', 'h']), 505);
  assert.equal(status('POST', '/', '1.0', ['Transfer-Encoding', 'chunked']), 400);
  assert.equal(status('POST', '/', '1.1', ['Host', 'h', 'Transfer-Encoding', 'gzip']), 501);
  assert.equal(status('POST', '/', '1.1', ['Host', 'h', 'Transfer-Encoding', 'Chunked']), 'ok');
  assert.equal(status('GET', '*', '1.1', ['Host', 'h']), 400);
});
