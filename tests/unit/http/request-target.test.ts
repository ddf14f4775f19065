import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRequestTarget, percentDecode, splitHostPort } from '../../../src/http/request-target.js';

test('percent-decoding gives the bytes as latin-1 characters, once', () => {
  assert.equal(percentDecode('/caf%C3%A9'), '/caf\u00c3\u00a9');
  assert.equal(percentDecode('/a%2Fb'), '/a/b');
  assert.equal(percentDecode('/%2541'), '/%41');
  assert.equal(percentDecode('/%00%ff%FF'), '/\u0000\u00ff\u00ff');
  assert.equal(percentDecode('/%zz/%4/%'), '/%zz/%4/%');
  assert.equal(percentDecode('/plain'), '/plain');
});

test('origin-form: path, raw query, fragment dropped', () => {
  assert.deepEqual(parseRequestTarget('/p/a?x=%20&y#frag', 'GET'), {
    path: '/p/a',
    query: 'x=%20&y',
    authority: null,
  });
  assert.deepEqual(parseRequestTarget('/p#f?not-query', 'GET'), { path: '/p', query: '', authority: null });
  assert.deepEqual(parseRequestTarget('/?', 'GET'), { path: '/', query: '', authority: null });
});

test('absolute-form gives its authority; asterisk-form only for OPTIONS; authority-form refused', () => {
  assert.deepEqual(parseRequestTarget('http://h.test:81/x?q', 'GET'), {
    path: '/x',
    query: 'q',
    authority: 'h.test:81',
  });
  assert.deepEqual(parseRequestTarget('https://h.test', 'GET'), {
    path: '/',
    query: '',
    authority: 'h.test',
  });
  assert.deepEqual(parseRequestTarget('*', 'OPTIONS'), { path: '*', query: '', authority: null });
  assert.equal(parseRequestTarget('*', 'GET'), null);
  assert.equal(parseRequestTarget('h.test:443', 'CONNECT'), null);
  assert.equal(parseRequestTarget('h.test:443', 'GET'), null);
  assert.equal(parseRequestTarget('', 'GET'), null);
});

test('Host values', () => {
  assert.deepEqual(splitHostPort('example.com'), { name: 'example.com', port: '' });
  assert.deepEqual(splitHostPort('example.com:8080'), { name: 'example.com', port: '8080' });
  assert.deepEqual(splitHostPort('[::1]:8080'), { name: '[::1]', port: '8080' });
  assert.deepEqual(splitHostPort('[::1]'), { name: '[::1]', port: '' });
  assert.equal(splitHostPort('bad host'), null);
  assert.equal(splitHostPort('h:port'), null);
  assert.equal(splitHostPort('[::1'), null);
});

test('absolute-form: userinfo never reaches the authority (RFC 9110 §4.2.4)', () => {
  assert.deepEqual(parseRequestTarget('http://user:pass@example.com:8080/foo?q=1', 'GET'), {
    path: '/foo',
    query: 'q=1',
    authority: 'example.com:8080',
  });
  assert.equal(parseRequestTarget('http://a@b@h.test/', 'GET')?.authority, 'h.test');
  assert.equal(parseRequestTarget('http://[::1]:8080/x', 'GET')?.authority, '[::1]:8080');
});

test('absolute-form with an invalid or empty authority is refused (Gunicorn corpus invalid/016)', () => {
  assert.equal(parseRequestTarget('s://]ufd/:', 'PUT'), null);
  assert.equal(parseRequestTarget('http:///x', 'GET'), null);
  assert.equal(parseRequestTarget('http://user@/x', 'GET'), null);
  assert.equal(parseRequestTarget('http://h.test:8o/x', 'GET'), null);
  assert.equal(parseRequestTarget('http://[a b]/x', 'GET'), null);
  assert.equal(splitHostPort('[zz]:80'), null);
  assert.deepEqual(splitHostPort('[v1.x]:80'), { name: '[v1.x]', port: '80' });
});
