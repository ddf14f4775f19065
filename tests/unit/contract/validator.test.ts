import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WsgiApp } from '../../../src/contract/types.js';
import {
  assertClosed,
  environViolations,
  validator,
  type WsgiViolation,
} from '../../../src/contract/validator.js';
import { callApp, makeEnviron } from '../../helpers/environ.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** Runs a validated app; returns the violation codes reported (with onViolation) and the response. */
async function violations(app: WsgiApp, environ = makeEnviron()) {
  const codes: string[] = [];
  const result = await callApp(
    validator(app, { onViolation: (v: WsgiViolation) => codes.push(v.code) }),
    environ,
  ).catch((error: unknown) => ({ error }));
  return { codes, result };
}

const good: Record<string, WsgiApp> = {
  'a list body': (_e, start) => {
    start('200 OK', [['Content-Type', 'text/plain']]);
    return [enc('hello')];
  },
  'a generator calling start_response on its first step': (_e, start) => {
    return (function* () {
      start('200 OK', []);
      yield enc('a');
      yield enc('');
      yield enc('b');
    })();
  },
  'an async generator': (_e, start) => {
    start('201 Created', [
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
    return (async function* () {
      yield enc('x');
    })();
  },
  'a Promise-returning app reading its input': async (environ, start) => {
    const body = await environ['wsgi.input'].read();
    start('200 OK', []);
    return [body];
  },
  'the write() callable': (_e, start) => {
    const write = start('200 OK', []);
    write(enc('written'));
    return [];
  },
  'exc_info replacing headers': (_e, start) => {
    start('200 OK', []);
    try {
      throw new Error('handled');
    } catch (error) {
      start('500 Internal Server Error', [], error);
    }
    return [enc('replaced')];
  },
};

for (const [name, app] of Object.entries(good)) {
  test(`a good app passes: ${name}`, async () => {
    const { codes, result } = await violations(app, makeEnviron({ REQUEST_METHOD: 'POST' }, enc('in')));
    assert.deepEqual(codes, []);
    assert.ok(!('error' in result));
  });
}

const broken: Array<[string, WsgiApp, string]> = [
  ['status without a space', (_e, s) => (s('200OK' as '200 OK', []), []), 'status-invalid'],
  ['four-digit status', (_e, s) => (s('2000 OK' as '200 OK', []), []), 'status-invalid'],
  ['status with CR LF', (_e, s) => (s('200 OK\r\nX: y', []), []), 'status-invalid'],
  ['CR in a header value', (_e, s) => (s('200 OK', [['X-A', 'a\rb']]), []), 'header-invalid'],
  ['LF in a header value', (_e, s) => (s('200 OK', [['X-A', 'a\nInjected: 1']]), []), 'header-invalid'],
  [
    'a non-string header value',
    (_e, s) => (s('200 OK', [['X-A', 5 as unknown as string]]), []),
    'header-invalid',
  ],
  [
    'a header that is not a pair',
    (_e, s) => (s('200 OK', [['X-A'] as unknown as [string, string]]), []),
    'headers-invalid',
  ],
  [
    'a hop-by-hop header',
    (_e, s) => (s('200 OK', [['Transfer-Encoding', 'chunked']]), []),
    'header-hop-by-hop',
  ],
  ['a string chunk', (_e, s) => (s('200 OK', []), ['text' as unknown as Uint8Array]), 'chunk-not-bytes'],
  ['a string body', (_e, s) => (s('200 OK', []), 'text' as unknown as Uint8Array[]), 'body-invalid'],
  [
    'write() with a string',
    (_e, s) => (s('200 OK', [])('text' as unknown as Uint8Array), []),
    'write-not-bytes',
  ],
  [
    'start_response twice without exc_info',
    (_e, s) => (s('200 OK', []), s('404 Not Found', []), []),
    'start-response-twice',
  ],
  ['a body before start_response', () => [enc('too early')], 'start-response-missing'],
];

for (const [name, app, code] of broken) {
  test(`a broken app is caught: ${name}`, async () => {
    const { codes } = await violations(app);
    assert.ok(codes.includes(code), `expected ${code}, got ${JSON.stringify(codes)}`);
  });
}

test('by default a violation is thrown, so the server answers 500', async () => {
  const app = validator((_e, s) => (s('200 OK', [['X-A', 'a\r\nb']]), []));
  await assert.rejects(callApp(app), (e: WsgiViolation) => e.code === 'header-invalid');
});

test('close() not called by the server is detected; close() called is not', async () => {
  const app = validator((_e, s) => (s('200 OK', []), [enc('x')]));
  const body = await app(makeEnviron(), () => () => {});
  assert.throws(
    () => assertClosed(body),
    (e: WsgiViolation) => e.code === 'close-not-called',
  );
  await body.close?.();
  assert.doesNotThrow(() => assertClosed(body));
});

test('the environ side: missing keys, wrong types and forms are reported', () => {
  const codes = (o: Record<string, unknown>) => environViolations(makeEnviron(o)).map((v) => v.message);
  assert.deepEqual(codes({}), []);
  assert.match(codes({ REQUEST_METHOD: undefined }).join(), /REQUEST_METHOD/);
  assert.match(codes({ SERVER_PORT: 80 }).join(), /SERVER_PORT must be a string/);
  assert.match(codes({ 'wsgi.version': [1, 1] }).join(), /wsgi.version/);
  assert.match(codes({ 'wsgi.url_scheme': 'ftp' }).join(), /url_scheme/);
  assert.match(codes({ HTTP_CONTENT_TYPE: 'x' }).join(), /HTTP_CONTENT_TYPE must not be set/);
  assert.match(codes({ CONTENT_LENGTH: '1a' }).join(), /CONTENT_LENGTH/);
  assert.match(codes({ PATH_INFO: 'no-slash' }).join(), /PATH_INFO/);
  assert.deepEqual(codes({ PATH_INFO: '*', REQUEST_METHOD: 'OPTIONS' }), []);
  assert.match(codes({ 'wsgi.input': {} }).join(), /wsgi.input/);
  assert.match(codes({ 'wsgi.multithread': 'no' }).join(), /wsgi.multithread/);
});
