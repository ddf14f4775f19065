import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyProxyHeaders,
  lastForwarded,
  parseFieldTrust,
  parseProxyTrust,
} from '../../../src/http/forwarded.js';

const ALL = ['for', 'proto', 'host', 'port', 'prefix'];

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

test('by default a trusted peer is believed for the client and the scheme only; -Host, -Port, -Prefix are removed', () => {
  // The usual Nginx config sets Host, X-Forwarded-For and -Proto and passes on whatever else the client sent.
  const env: Record<string, string> = {
    ...base(),
    HTTP_HOST: 'www.example.com',
    SERVER_NAME: 'www.example.com',
    HTTP_X_FORWARDED_FOR: 'spoofed, 203.0.113.7',
    HTTP_X_FORWARDED_PROTO: 'https',
    HTTP_X_FORWARDED_HOST: 'evil.example',
    HTTP_X_FORWARDED_PORT: '666',
    HTTP_X_FORWARDED_PREFIX: '/evil',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1']));
  assert.deepEqual([env.REMOTE_ADDR, env['wsgi.url_scheme']], ['203.0.113.7', 'https']);
  assert.deepEqual(
    [env.HTTP_HOST, env.SERVER_NAME, env.SERVER_PORT, env.SCRIPT_NAME],
    ['www.example.com', 'www.example.com', '443', ''],
  );
  for (const key of ['HTTP_X_FORWARDED_HOST', 'HTTP_X_FORWARDED_PORT', 'HTTP_X_FORWARDED_PREFIX'])
    assert.ok(!(key in env), `${key} is removed, so the app cannot believe it either`);
  assert.equal(env.HTTP_X_FORWARDED_FOR, 'spoofed, 203.0.113.7', 'a believed header stays');
});

test('X-Forwarded-* from a trusted peer with --forwarded-trust for,proto,host,port,prefix', () => {
  const env: Record<string, string> = {
    ...base(),
    HTTP_X_FORWARDED_FOR: 'spoofed, 203.0.113.7',
    HTTP_X_FORWARDED_PROTO: 'https',
    HTTP_X_FORWARDED_HOST: 'www.example.com',
    HTTP_X_FORWARDED_PREFIX: '/app/',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1'], 'x-forwarded', ALL));
  assert.equal(env.REMOTE_ADDR, '203.0.113.7');
  assert.equal(env.REMOTE_PORT, undefined);
  assert.equal(env['wsgi.url_scheme'], 'https');
  assert.deepEqual(
    [env.HTTP_HOST, env.SERVER_NAME, env.SERVER_PORT],
    ['www.example.com', 'www.example.com', '443'],
  );
  assert.equal(env.SCRIPT_NAME, '/app');
});

test('X-Forwarded-Port (opted in) sets SERVER_PORT and the port in HTTP_HOST, after -Host', () => {
  const env: Record<string, string> = {
    ...base(),
    HTTP_X_FORWARDED_HOST: 'shop.example',
    HTTP_X_FORWARDED_PORT: '8443',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1'], 'x-forwarded', ALL));
  assert.deepEqual(
    [env.HTTP_HOST, env.SERVER_NAME, env.SERVER_PORT],
    ['shop.example:8443', 'shop.example', '8443'],
  );
  const junk: Record<string, string> = { ...base(), HTTP_X_FORWARDED_PORT: '99999' };
  applyProxyHeaders(junk, parseProxyTrust(['127.0.0.1'], 'x-forwarded', ALL));
  assert.deepEqual([junk.HTTP_HOST, junk.SERVER_PORT], ['internal:8000', '8000']);
});

test('hop counts (ProxyFix): for=2 takes the second entry from the end; too few entries change nothing', () => {
  const trust = parseProxyTrust(['127.0.0.1'], 'x-forwarded', ['for=2', 'proto', 'host=2']);
  const env: Record<string, string> = {
    ...base(),
    HTTP_X_FORWARDED_FOR: '6.6.6.6, 203.0.113.7, 10.0.0.5',
    HTTP_X_FORWARDED_PROTO: 'http, https',
    HTTP_X_FORWARDED_HOST: 'only-one.example',
  };
  applyProxyHeaders(env, trust);
  assert.equal(env.REMOTE_ADDR, '203.0.113.7', 'the entry the outer proxy added');
  assert.equal(env['wsgi.url_scheme'], 'https', 'proto counts 1: the last entry');
  assert.equal(env.HTTP_HOST, 'internal:8000', 'host=2 with one entry: left alone');
  const short: Record<string, string> = { ...base(), HTTP_X_FORWARDED_FOR: '10.0.0.5' };
  applyProxyHeaders(short, trust);
  assert.equal(short.REMOTE_ADDR, '127.0.0.1');
});

test('--forwarded-trust values: fields, =N counts, none; anything else is refused', () => {
  assert.deepEqual(parseFieldTrust(['for', 'proto']), { for: 1, proto: 1, host: 0, port: 0, prefix: 0 });
  assert.deepEqual(parseFieldTrust(['FOR=3', 'prefix']), { for: 3, proto: 0, host: 0, port: 0, prefix: 1 });
  assert.deepEqual(parseFieldTrust(['none']), { for: 0, proto: 0, host: 0, port: 0, prefix: 0 });
  assert.throws(() => parseFieldTrust(['server']), /not a proxy header field/);
  assert.throws(() => parseFieldTrust(['for=0']), /at least 1/);
  assert.throws(() => parseFieldTrust(['for=x']), /not a proxy header field/);
});

test('--forwarded-headers forwarded: RFC 7239 Forwarded, its last element; X-Forwarded-* removed', () => {
  const env: Record<string, string> = {
    ...base(),
    HTTP_FORWARDED: 'for=1.1.1.1;proto=http, for="[2001:db8::1]:4711";proto=https;host="shop.example:8443"',
    HTTP_X_FORWARDED_FOR: '9.9.9.9',
  };
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1'], 'forwarded', ALL));
  assert.deepEqual(
    [env.REMOTE_ADDR, env['wsgi.url_scheme'], env.SERVER_NAME, env.SERVER_PORT],
    ['2001:db8::1', 'https', 'shop.example', '8443'],
  );
  assert.equal(env.HTTP_X_FORWARDED_FOR, undefined);
  assert.deepEqual(lastForwarded('for=a, For=b;Proto=https'), { for: 'b', proto: 'https' });
});

test('--forwarded-headers forwarded: host= needs the same opt-in; port and prefix come from X-Forwarded-*', () => {
  const sent = {
    ...base(),
    HTTP_FORWARDED: 'for=203.0.113.7;proto=https;host=evil.example',
    HTTP_X_FORWARDED_PREFIX: '/app',
    HTTP_X_FORWARDED_PORT: '8443',
  };
  const plain: Record<string, string> = { ...sent };
  applyProxyHeaders(plain, parseProxyTrust(['127.0.0.1'], 'forwarded'));
  assert.deepEqual(
    [plain.REMOTE_ADDR, plain['wsgi.url_scheme'], plain.HTTP_HOST, plain.SERVER_NAME, plain.SCRIPT_NAME],
    ['203.0.113.7', 'https', 'internal:8000', 'internal', ''],
  );
  assert.ok(!('HTTP_X_FORWARDED_PREFIX' in plain) && !('HTTP_X_FORWARDED_PORT' in plain));
  const opted: Record<string, string> = { ...sent };
  applyProxyHeaders(opted, parseProxyTrust(['127.0.0.1'], 'forwarded', ALL));
  assert.deepEqual(
    [opted.HTTP_HOST, opted.SERVER_NAME, opted.SERVER_PORT, opted.SCRIPT_NAME],
    ['evil.example:8443', 'evil.example', '8443', '/app'],
  );
  // Two proxies, each adding an element: for=2 takes the outer one's, and proto=2 its scheme.
  const hops: Record<string, string> = {
    ...base(),
    HTTP_FORWARDED: 'for=6.6.6.6;proto=http, for=203.0.113.7;proto=https, for=10.0.0.5;proto=http',
  };
  applyProxyHeaders(hops, parseProxyTrust(['127.0.0.1'], 'forwarded', ['for=2', 'proto=2']));
  assert.deepEqual([hops.REMOTE_ADDR, hops['wsgi.url_scheme']], ['203.0.113.7', 'https']);
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
  applyProxyHeaders(env, parseProxyTrust(['127.0.0.1'], 'x-forwarded', ALL));
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
