import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRequestHead, forbiddenTrailer } from '../../../src/http/request-checks.js';

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

test('Transfer-Encoding over two field lines is one list: gzip then chunked is 501 (issue 11.4)', () => {
  const te = (...values: string[]) => ['Host', 'h', ...values.flatMap((v) => ['Transfer-Encoding', v])];
  assert.equal(status('POST', '/', '1.1', te('gzip', 'chunked')), 501);
  assert.equal(status('POST', '/', '1.1', te('chunked', 'chunked')), 501);
  assert.equal(status('POST', '/', '1.1', te('identity', 'chunked')), 501);
  assert.equal(status('POST', '/', '1.1', te(' chunked ')), 'ok');
});

test("a field line counts as Gunicorn counts it: 'name: value' and CRLF (issue 11.15)", () => {
  // fieldSize 50: 'X: ' + 45 + CRLF = 50 bytes is accepted, one more is refused.
  assert.equal(status('GET', '/', '1.1', ['Host', 'h', 'X', 'v'.repeat(45)]), 'ok');
  assert.equal(status('GET', '/', '1.1', ['Host', 'h', 'X', 'v'.repeat(46)]), 431);
});

test('fields forbidden in trailers (RFC 9110 §6.5.1) are found, others are not', () => {
  assert.equal(forbiddenTrailer([]), null);
  assert.equal(forbiddenTrailer(['X-Checksum', 'abc', 'Server-Timing', 'x']), null);
  assert.equal(forbiddenTrailer(['X-Checksum', 'abc', 'Host', 'evil.example.com']), 'Host');
  assert.equal(forbiddenTrailer(['content-length', '3']), 'content-length');
});
