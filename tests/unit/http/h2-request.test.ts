import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkH2RequestHead, h2RequestHead } from '../../../src/http/h2-request.js';

const limits = { requestLine: 4094, fields: 4, fieldSize: 100, body: 1000 };
const raw = (extra: string[] = []) => [
  ':method',
  'GET',
  ':scheme',
  'https',
  ':authority',
  'example.com:8443',
  ':path',
  '/a%20b?x=1',
  ...extra,
];

test('pseudo-headers are taken out; regular fields stay in order', () => {
  const head = h2RequestHead(raw(['accept', '*/*', 'x-a', '1', 'x-a', '2']));
  assert.equal(head.method, 'GET');
  assert.equal(head.path, '/a%20b?x=1');
  assert.equal(head.authority, 'example.com:8443');
  assert.deepEqual(head.rawHeaders, ['accept', '*/*', 'x-a', '1', 'x-a', '2']);
  assert.equal(head.host, null);
});

test('RFC 9113 §8.2.3: cookie fields become one, joined with "; "', () => {
  const head = h2RequestHead(raw(['cookie', 'a=1', 'accept', '*/*', 'cookie', 'b=2']));
  assert.deepEqual(head.rawHeaders, ['accept', '*/*', 'cookie', 'a=1; b=2']);
});

test(':authority becomes the target authority (HTTP_HOST); a disagreeing Host is refused', () => {
  const checked = checkH2RequestHead(h2RequestHead(raw()), limits);
  assert.ok(checked.ok);
  assert.deepEqual(checked.target, { path: '/a%20b', query: 'x=1', authority: 'example.com:8443' });
  const same = checkH2RequestHead(h2RequestHead(raw(['host', 'EXAMPLE.com:8443'])), limits);
  assert.ok(same.ok);
  const other = checkH2RequestHead(h2RequestHead(raw(['host', 'evil.example'])), limits);
  assert.deepEqual(other, { ok: false, rejection: { status: 400, reason: 'Host differs from :authority' } });
  const hostOnly = checkH2RequestHead(h2RequestHead([':method', 'GET', ':path', '/', 'host', 'h']), limits);
  assert.ok(hostOnly.ok && hostOnly.target.authority === null, 'without :authority, Host names the host');
});

test('limits: request line 414, field count and size 431, declared body 413', () => {
  const status = (head: string[], l = limits) => {
    const c = checkH2RequestHead(h2RequestHead(head), l);
    return c.ok ? 200 : c.rejection.status;
  };
  assert.equal(status(raw(), { ...limits, requestLine: 15 }), 414);
  assert.equal(status(raw(['a', '1', 'b', '2', 'c', '3', 'd', '4'])), 200);
  assert.equal(status(raw(['a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5'])), 431);
  assert.equal(status(raw(['x-big', 'v'.repeat(99)])), 431);
  assert.equal(status(raw(['content-length', '1001'])), 413);
  assert.equal(status(raw(['content-length', '1000'])), 200);
});

test(':path must be origin-form (or * for OPTIONS); :method and :path are required', () => {
  const status = (method: string, path: string) => {
    const c = checkH2RequestHead(h2RequestHead([':method', method, ':path', path]), limits);
    return c.ok ? 200 : c.rejection.status;
  };
  assert.equal(status('GET', 'http://example.com/'), 400);
  assert.equal(status('OPTIONS', '*'), 200);
  assert.equal(status('GET', '*'), 400);
  assert.equal(status('GET', ''), 400);
  assert.equal(status('', '/'), 400);
});
