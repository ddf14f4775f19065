import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildEnviron, headerKey } from '../../../src/http/environ.js';
import { parseRequestTarget } from '../../../src/http/request-target.js';

const conn = {
  remoteAddress: '10.0.0.9',
  remotePort: '5555',
  serverName: '127.0.0.1',
  serverPort: '8000',
  scheme: 'http',
};

function environ(
  target: string,
  rawHeaders: string[],
  options = { scriptName: '' },
  method = 'GET',
  protocol = 'HTTP/1.1',
) {
  return buildEnviron(
    { method, rawTarget: target, target: parseRequestTarget(target, method)!, protocol, rawHeaders },
    conn,
    options,
  );
}

test('the CGI keys of PEP 3333 and Gunicorn', () => {
  const env = environ('/caf%C3%A9?x=%41', ['Host', 'example.com', 'Accept', '*/*']);
  assert.deepEqual(env, {
    HTTP_HOST: 'example.com',
    HTTP_ACCEPT: '*/*',
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/caf\u00c3\u00a9',
    QUERY_STRING: 'x=%41',
    RAW_URI: '/caf%C3%A9?x=%41',
    SERVER_NAME: 'example.com',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '10.0.0.9',
    REMOTE_PORT: '5555',
    'wsgi.url_scheme': 'http',
  });
});

test('CONTENT_TYPE and CONTENT_LENGTH only when sent, never as HTTP_ keys', () => {
  const env = environ('/', ['Host', 'h', 'Content-Type', 'text/plain', 'Content-Length', '3']);
  assert.equal(env.CONTENT_TYPE, 'text/plain');
  assert.equal(env.CONTENT_LENGTH, '3');
  assert.ok(!('HTTP_CONTENT_TYPE' in env) && !('HTTP_CONTENT_LENGTH' in env));
  const bare = environ('/', ['Host', 'h']);
  assert.ok(!('CONTENT_TYPE' in bare) && !('CONTENT_LENGTH' in bare));
});

test('repeated headers are joined with ","; names with "_" are dropped', () => {
  const env = environ('/', ['Host', 'h', 'X-A', '1', 'x-a', '2', 'X_User', 'evil', 'X-User', 'good']);
  assert.equal(env.HTTP_X_A, '1,2');
  assert.equal(env.HTTP_X_USER, 'good');
  assert.equal(headerKey('X_User'), null);
});

test('a __proto__ header pollutes nothing', () => {
  const env = environ('/', ['Host', 'h', '__proto__', 'x', 'Constructor', 'y', 'Proto', 'z']);
  assert.equal(Object.getPrototypeOf(env), Object.prototype);
  assert.equal(env.HTTP_CONSTRUCTOR, 'y');
  assert.equal(env.HTTP_PROTO, 'z');
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

test('SERVER_NAME/PORT from Host (v6 and default ports), else the bound address', () => {
  assert.deepEqual(pick(environ('/', ['Host', '[::1]:8080'])), ['[::1]', '8080']);
  assert.deepEqual(
    pick(
      buildEnviron(
        {
          method: 'GET',
          rawTarget: '/',
          target: parseRequestTarget('/', 'GET')!,
          protocol: 'HTTP/1.1',
          rawHeaders: ['Host', 'h'],
        },
        { ...conn, scheme: 'https' },
        { scriptName: '' },
      ),
    ),
    ['h', '443'],
  );
  assert.deepEqual(pick(environ('/', [], { scriptName: '' }, 'GET', 'HTTP/1.0')), ['127.0.0.1', '8000']);
});

test('absolute-form: the authority is the host', () => {
  const env = environ('http://other.test:9000/p?q', ['Host', 'ignored.test']);
  assert.deepEqual(pick(env), ['other.test', '9000']);
  assert.equal(env.HTTP_HOST, 'other.test:9000');
  assert.equal(env.PATH_INFO, '/p');
});

test('a mount point becomes SCRIPT_NAME only at a segment boundary', () => {
  const under = environ('/app/x', ['Host', 'h'], { scriptName: '/app' });
  assert.deepEqual([under.SCRIPT_NAME, under.PATH_INFO], ['/app', '/x']);
  const exact = environ('/app', ['Host', 'h'], { scriptName: '/app' });
  assert.deepEqual([exact.SCRIPT_NAME, exact.PATH_INFO], ['/app', '']);
  const other = environ('/application', ['Host', 'h'], { scriptName: '/app' });
  assert.deepEqual([other.SCRIPT_NAME, other.PATH_INFO], ['', '/application']);
});

function pick(env: Record<string, string>): [string | undefined, string | undefined] {
  return [env.SERVER_NAME, env.SERVER_PORT];
}

test("PROXY protocol facts become Gunicorn's PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT", () => {
  const proxied = { ...conn, proxy: { protocol: 'TCP4', address: '192.0.2.1', port: '443' } };
  const head = {
    method: 'GET',
    rawTarget: '/',
    target: parseRequestTarget('/', 'GET')!,
    protocol: 'HTTP/1.1',
  };
  const env = buildEnviron({ ...head, rawHeaders: ['Proxy-Addr', 'forged'] }, proxied, { scriptName: '' });
  assert.deepEqual([env.PROXY_PROTOCOL, env.PROXY_ADDR, env.PROXY_PORT], ['TCP4', '192.0.2.1', '443']);
  assert.equal(env.HTTP_PROXY_ADDR, 'forged', 'a header is only ever an HTTP_ key');
  assert.ok(!('PROXY_ADDR' in environ('/', ['Host', 'h'])), 'nothing without a PROXY header');
});
