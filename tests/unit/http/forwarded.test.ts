import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyProxyHeaders, lastForwarded, parseProxyTrust } from '../../../src/http/forwarded.js';

const base = () => ({
  REMOTE_ADDR: '127.0.0.1',
  REMOTE_PORT: '5000',
  HTTP_HOST: 'internal:8000',
  SERVER_NAME: 'internal',
  SERVER_PORT: '8000',
  SCRIPT_NAME: '',
  PATH_INFO: '/x',
  'wsgi.url_scheme': 'http',
});

test('trust lists: addresses, CIDRs, IPv4-mapped IPv6, Unix sockets, *', () => {
  const trust = parseProxyTrust(['127.0.0.1', '::1', '10.0.0.0/8']);
  assert.ok(
    trust.trusts('127.0.0.1') &&
      trust.trusts('::1') &&
      trust.trusts('10.2.3.4') &&
      trust.trusts('::ffff:10.2.3.4'),
  );
  assert.ok(!trust.trusts('192.168.1.1') && !trust.trusts('11.0.0.1'));
  assert.ok(trust.trusts(''), 'unix socket peers are trusted');
  assert.ok(parseProxyTrust(['*']).trusts('8.8.8.8'));
  assert.throws(() => parseProxyTrust(['example.com']), /not an IP address or CIDR/);
});

test('X-Forwarded-* from a trusted peer: client, scheme, host, prefix', () => {
  const env: Record<string, string> = {
    ...base(),
    HTTP_X_FORWARDED_FOR: 'spoofed, 203.0.113.7',
    HTTP_X_FORWARDED_PROTO: 'https',
    HTTP_X_FORWARDED_HOST: 'www.example.com',
    HTTP_X_FORWARDED_PREFIX: '/app/',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1']));
  assert.equal(env.REMOTE_ADDR, '203.0.113.7');
  assert.equal(env.REMOTE_PORT, undefined);
  assert.equal(env['wsgi.url_scheme'], 'https');
  assert.deepEqual(
    [env.HTTP_HOST, env.SERVER_NAME, env.SERVER_PORT],
    ['www.example.com', 'www.example.com', '443'],
  );
  assert.equal(env.SCRIPT_NAME, '/app');
});

test('--forwarded-headers forwarded: RFC 7239 Forwarded, its last element; X-Forwarded-* removed', () => {
  const env: Record<string, string> = {
    ...base(),
    HTTP_FORWARDED: 'for=1.1.1.1;proto=http, for="[2001:db8::1]:4711";proto=https;host="shop.example:8443"',
    HTTP_X_FORWARDED_FOR: '9.9.9.9',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1'], 'forwarded'));
  assert.deepEqual(
    [env.REMOTE_ADDR, env['wsgi.url_scheme'], env.SERVER_NAME, env.SERVER_PORT],
    ['2001:db8::1', 'https', 'shop.example', '8443'],
  );
  assert.equal(env.HTTP_X_FORWARDED_FOR, undefined);
  assert.deepEqual(lastForwarded('for=a, For=b;Proto=https'), { for: 'b', proto: 'https' });
});

test('from an untrusted peer the headers change nothing and are removed', () => {
  const env: Record<string, string> = {
    ...base(),
    REMOTE_ADDR: '198.51.100.1',
    HTTP_X_FORWARDED_FOR: '10.0.0.1',
    HTTP_X_FORWARDED_PROTO: 'https',
    HTTP_FORWARDED: 'for=10.0.0.1',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1']));
  assert.equal(env.REMOTE_ADDR, '198.51.100.1');
  assert.equal(env['wsgi.url_scheme'], 'http');
  assert.ok(
    !('HTTP_X_FORWARDED_FOR' in env) && !('HTTP_FORWARDED' in env) && !('HTTP_X_FORWARDED_PROTO' in env),
  );
});

test('junk values are ignored: a non-IP client, an unknown scheme, a relative prefix', () => {
  const env: Record<string, string> = {
    ...base(),
    HTTP_X_FORWARDED_FOR: 'unknown',
    HTTP_X_FORWARDED_PROTO: 'gopher',
    HTTP_X_FORWARDED_PREFIX: 'app',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1']));
  assert.deepEqual([env.REMOTE_ADDR, env['wsgi.url_scheme'], env.SCRIPT_NAME], ['127.0.0.1', 'http', '']);
});

test('by default only X-Forwarded-* is read: a Forwarded header a client slipped through is removed', () => {
  // A stock Nginx config sets X-Forwarded-For and passes on whatever Forwarded the client sent.
  const env: Record<string, string> = {
    ...base(),
    HTTP_FORWARDED: 'for=6.6.6.6;proto=https;host=evil.example',
    HTTP_X_FORWARDED_FOR: '203.0.113.9',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1']));
  assert.equal(env.REMOTE_ADDR, '203.0.113.9');
  assert.equal(env['wsgi.url_scheme'], 'http');
  assert.equal(env.SERVER_NAME, 'internal');
  assert.equal(env.HTTP_FORWARDED, undefined);
});
