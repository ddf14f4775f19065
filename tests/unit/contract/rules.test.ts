import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  checkHeader,
  checkHeaderName,
  checkHeaders,
  checkHeaderValue,
  checkStatus,
  HOP_BY_HOP,
  isContentLength,
} from '../../../src/contract/rules.js';
import { fixtures } from '../../helpers/paths.js';

/** Shared with tests/python/test_rules.py: the worker's start_response applies the same rules. */
const vectors = JSON.parse(readFileSync(`${fixtures}header-rules-vectors.json`, 'utf8')) as {
  statuses: Array<{ status: unknown; code: number | null }>;
  headers: Array<{ name: string; headers: unknown; valid: boolean }>;
};

test('checkStatus on the shared vectors', () => {
  for (const v of vectors.statuses) {
    const got = checkStatus(v.status);
    if (v.code === null) assert.equal(typeof got, 'string', JSON.stringify(v.status));
    else assert.equal(got, v.code, JSON.stringify(v.status));
  }
});

for (const v of vectors.headers) {
  test(`checkHeaders on the shared vectors: ${v.name}`, () => {
    const got = checkHeaders(v.headers);
    if (v.valid) assert.equal(got, null);
    else assert.equal(typeof got, 'string');
  });
}

test('checkStatus accepts "NNN reason" and returns the code', () => {
  assert.equal(checkStatus('200 OK'), 200);
  assert.equal(checkStatus('404 Not Found'), 404);
  assert.equal(checkStatus('599 '), 599);
  assert.equal(checkStatus('204 No Content'), 204);
});

test('checkStatus refuses malformed statuses, control characters, 1xx and non-strings', () => {
  for (const bad of [
    '200OK',
    '2000 OK',
    'abc',
    '20 OK',
    '099 Low',
    '200 OK\r\nX: y',
    '200 O\u0000K',
    ' 200 OK',
    '200 \u0100',
  ]) {
    assert.equal(typeof checkStatus(bad), 'string', JSON.stringify(bad));
  }
  assert.match(String(checkStatus('100 Continue')), /not a final status/);
  assert.match(String(checkStatus(200)), /must be a string/);
});

test('checkHeader refuses CR, LF, NUL and other controls in values, and non-token names', () => {
  assert.equal(checkHeader('Content-Type', 'text/plain; charset=utf-8'), null);
  assert.equal(checkHeader('X-Tab', 'a\tb'), null);
  assert.equal(checkHeader('X-Latin1', 'caf\u00e9'), null);
  for (const value of ['a\r\nInjected: 1', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb', 'a\u001bb', '\u20ac']) {
    assert.notEqual(checkHeader('X-Bad', value), null, JSON.stringify(value));
  }
  for (const name of ['', 'Bad Name', 'Bad:Name', 'Bad\r\nName', 'Caf\u00e9']) {
    assert.notEqual(checkHeader(name, 'v'), null, JSON.stringify(name));
  }
  assert.match(String(checkHeader('X', 1)), /must be a string/);
});

test('hop-by-hop headers and Content-Length values', () => {
  for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer'])
    assert.ok(HOP_BY_HOP.has(name));
  assert.ok(!HOP_BY_HOP.has('content-length'));
  assert.ok(isContentLength('0') && isContentLength('123'));
  for (const bad of ['', '+1', '-1', '1,1', ' 1', '1 ', '0x10', '1.0']) assert.ok(!isContentLength(bad), bad);
});

test('checkHeaderName and checkHeaderValue each judge their own half', () => {
  assert.equal(checkHeaderName('X-Ok'), null);
  assert.match(String(checkHeaderName('X A')), /invalid header name/);
  assert.match(String(checkHeaderName(undefined)), /must be a string/);
  assert.equal(checkHeaderValue('X-Ok', ''), null);
  assert.match(String(checkHeaderValue('X-Bad', 'a\nb')), /invalid characters/);
  assert.match(String(checkHeaderValue('X-Bad', null)), /must be a string/);
});
