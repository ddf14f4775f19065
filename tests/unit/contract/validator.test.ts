import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Environ, ResponseBody, StartResponse, WsgiApp } from '../../../src/contract/types.js';
import {
  assertClosed,
  environViolations,
  validator,
  type WsgiViolation,
} from '../../../src/contract/validator.js';
import { callApp, makeEnviron } from '../../helpers/environ.js';

const enc = (s: string) => new TextEncoder().encode(s);
const loose = <T>(value: unknown) => value as T;

/** Serves a validated app with callApp; returns the violation codes reported and the response. */
async function served(app: WsgiApp, environ = makeEnviron()) {
  const codes: string[] = [];
  const checked = validator(app, { onViolation: (v: WsgiViolation) => codes.push(v.code) });
  const result = await callApp(checked, environ).then(
    (response) => {
      assertClosed(response.raw);
      return response;
    },
    (error: unknown) => ({ error }),
  );
  return { codes, result };
}

/** A server that never raises from start_response and does not iterate: the test drives the body. */
const lenientStart: StartResponse = () => () => {};

const good: Array<[string, WsgiApp, string]> = [
  [
    'a list body',
    (_e, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [enc('hel'), enc('lo')];
    },
    'hello',
  ],
  [
    'a generator calling start_response on its first step',
    (_e, start) =>
      (function* () {
        start('200 OK', []);
        yield enc('a');
        yield enc('');
        yield enc('b');
      })(),
    'ab',
  ],
  [
    'an async generator',
    (_e, start) => {
      start('201 Created', [
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ]);
      return (async function* () {
        yield enc('x');
      })();
    },
    'x',
  ],
  [
    'a Promise-returning app reading its input every way',
    async (environ, start) => {
      const input = environ['wsgi.input'];
      const head = await input.read(2);
      const line = await input.readline();
      const lines = await input.readlines(-1);
      start('200 OK', []);
      return [head, line, ...lines];
    },
    'in\nline\nrest',
  ],
  [
    'async iteration over its input',
    async (environ, start) => {
      const lines: Uint8Array[] = [];
      for await (const line of environ['wsgi.input']) lines.push(line);
      start('200 OK', []);
      return lines;
    },
    'in\nline\nrest',
  ],
  [
    'the write() callable',
    (_e, start) => {
      const write = start('200 OK', []);
      write(enc('written'));
      return [];
    },
    'written',
  ],
  [
    'exc_info replacing headers before any were sent',
    (_e, start) => {
      start('200 OK', []);
      try {
        throw new Error('handled');
      } catch (error) {
        start('500 Internal Server Error', [], error);
      }
      return [enc('replaced')];
    },
    'replaced',
  ],
  [
    'an empty body after start_response',
    (_e, start) =>
      (function* () {
        start('204 No Content', []);
        yield* [];
      })(),
    '',
  ],
  [
    'logging to wsgi.errors',
    (environ, start) => {
      environ['wsgi.errors'].write('a line\n');
      environ['wsgi.errors'].writelines(['two\n', 'lines\n']);
      environ['wsgi.errors'].flush();
      start('200 OK', []);
      return Object.assign([enc('ok')], { close() {} });
    },
    'ok',
  ],
];

for (const [name, app, expected] of good) {
  test(`a good app passes: ${name}`, async () => {
    const environ = () => makeEnviron({ REQUEST_METHOD: 'POST' }, enc('in\nline\nrest'));
    const { codes, result } = await served(app, environ());
    assert.deepEqual(codes, []);
    assert.ok(!('error' in result), String('error' in result && result.error));
    assert.equal(result.body, expected);
    // The default policy throws on any violation, so this fails if one is found.
    assert.equal((await callApp(validator(app), environ())).body, expected);
  });
}

/** An app that calls start_response with `status` and `headers`, then returns `body`. */
const replying =
  (status: unknown, headers: unknown, body: unknown = []): WsgiApp =>
  (_e, start) => {
    start(loose(status), loose(headers));
    return loose(body);
  };

/** An app that runs `step` on its environ, then answers 200 with an empty body. */
const after =
  (step: (environ: Environ) => unknown): WsgiApp =>
  async (environ, start) => {
    await step(environ);
    start('200 OK', []);
    return [];
  };

const stringChunk = loose<Uint8Array>('text');

const broken: Array<[string, WsgiApp, string[]]> = [
  ['status without a space', replying('200OK', []), ['status-invalid']],
  ['four-digit status', replying('2000 OK', []), ['status-invalid']],
  ['status "abc"', replying('abc', []), ['status-invalid']],
  ['status ending in CR', replying('200 OK\r', []), ['status-invalid']],
  ['status with CR LF', replying('200 OK\r\nX: y', []), ['status-invalid']],
  ['a 1xx status', replying('100 Continue', []), ['status-invalid']],
  ['a number as status', replying(200, []), ['status-invalid']],
  ['CR in a header value', replying('200 OK', [['X-A', 'a\rb']]), ['header-invalid']],
  ['LF in a header value', replying('200 OK', [['X-A', 'a\nInjected: 1']]), ['header-invalid']],
  ['NUL in a header value', replying('200 OK', [['X-A', 'a\u0000b']]), ['header-invalid']],
  ['a space in a header name', replying('200 OK', [['X A', 'a']]), ['header-invalid']],
  ['a non-string header value', replying('200 OK', [['X-A', 5]]), ['header-invalid']],
  ['a non-string header name', replying('200 OK', [[5, 'a']]), ['header-invalid']],
  ['a header that is not a pair', replying('200 OK', [['X-A']]), ['headers-invalid']],
  ['headers that are not a list', replying('200 OK', { 'X-A': 'a' }), ['headers-invalid']],
  [
    'a hop-by-hop Transfer-Encoding',
    replying('200 OK', [['Transfer-Encoding', 'chunked']]),
    ['header-hop-by-hop'],
  ],
  [
    'a hop-by-hop connection, lower case',
    replying('200 OK', [['connection', 'close']]),
    ['header-hop-by-hop'],
  ],
  ['a string chunk in a list', replying('200 OK', [], [stringChunk]), ['chunk-not-bytes']],
  [
    'a string chunk from a generator',
    replying(
      '200 OK',
      [],
      (function* () {
        yield stringChunk;
      })(),
    ),
    ['chunk-not-bytes'],
  ],
  [
    'a string chunk from an async generator',
    replying(
      '200 OK',
      [],
      (async function* () {
        yield stringChunk;
      })(),
    ),
    ['chunk-not-bytes'],
  ],
  ['a string body', replying('200 OK', [], 'text'), ['body-invalid']],
  ['a bytes body', replying('200 OK', [], enc('bytes')), ['body-invalid']],
  ['a null body', replying('200 OK', [], null), ['body-invalid']],
  [
    'write() with a string',
    (_e, start) => {
      start('200 OK', [])(stringChunk);
      return [];
    },
    ['write-not-bytes'],
  ],
  [
    'start_response twice without exc_info',
    (_e, start) => {
      start('200 OK', []);
      start('404 Not Found', []);
      return [];
    },
    ['start-response-twice'],
  ],
  ['a list body before start_response', () => [enc('too early')], ['start-response-missing']],
  ['an empty list before start_response', () => [], ['start-response-missing']],
  ['a Promise of a body without start_response', async () => [enc('x')], ['start-response-missing']],
  [
    'a generator yielding before it calls start_response',
    (_e, start) =>
      (function* () {
        yield enc('early');
        start('200 OK', []);
      })(),
    ['start-response-missing'],
  ],
  [
    'an empty async generator that never calls start_response',
    () => (async function* () {})(),
    ['start-response-missing'],
  ],
  [
    'a string size for wsgi.input.read()',
    after((e) => e['wsgi.input'].read(loose('10'))),
    ['input-arg-invalid'],
  ],
  [
    'two arguments to wsgi.input.read()',
    after((e) => loose<(...a: number[]) => unknown>(e['wsgi.input'].read)(1, 2)),
    ['input-arg-invalid'],
  ],
  [
    'null for wsgi.input.readlines()',
    after((e) => e['wsgi.input'].readlines(loose(null))),
    ['input-arg-invalid'],
  ],
  [
    'a fractional size for wsgi.input.readline()',
    after((e) => e['wsgi.input'].readline(1.5)),
    ['input-arg-invalid'],
  ],
  ['a number written to wsgi.errors', after((e) => e['wsgi.errors'].write(loose(5))), ['errors-not-string']],
  [
    'a number among the lines for wsgi.errors.writelines()',
    after((e) => e['wsgi.errors'].writelines(['ok\n', loose(5)])),
    ['errors-not-string'],
  ],
];

for (const [name, app, expected] of broken) {
  test(`a broken app is caught: ${name}`, async () => {
    const { codes } = await served(app);
    assert.deepEqual(codes, expected);
  });
}

test('by default a violation is thrown, so the server answers 500', async () => {
  const app = validator(replying('200 OK', [['X-A', 'a\r\nb']]));
  await assert.rejects(callApp(app), (e: WsgiViolation) => e.code === 'header-invalid' && e.side === 'app');
  const chunks = (async function* () {
    yield stringChunk;
  })();
  await assert.rejects(
    callApp(validator(replying('200 OK', [], chunks))),
    (e: WsgiViolation) => e.code === 'chunk-not-bytes',
  );
});

test('a refused status never reaches the server', () => {
  let seen = 0;
  const server: StartResponse = () => {
    seen++;
    return () => {};
  };
  const app = validator(replying('200 OK\r\nSet-Cookie: x', []));
  assert.throws(
    () => app(makeEnviron(), server),
    (e: WsgiViolation) => e.code === 'status-invalid',
  );
  assert.equal(seen, 0);
});

test('exc_info after the headers went out: the server must raise it', async () => {
  const sendsThenFails: WsgiApp = (_e, start) =>
    (function* () {
      start('200 OK', []);
      yield enc('sent');
      start('500 Internal Server Error', [], new Error('late'));
    })();
  // A faithful server re-raises exc_info; the app's error goes on, nothing is reported.
  const faithful = await served(sendsThenFails);
  assert.deepEqual(faithful.codes, []);
  assert.match(String((faithful.result as { error: unknown }).error), /late/);

  const codes: string[] = [];
  const onViolation = (v: WsgiViolation) => codes.push(`${v.side}:${v.code}`);
  const body = (await validator(sendsThenFails, { onViolation })(
    makeEnviron(),
    lenientStart,
  )) as Iterable<Uint8Array>;
  assert.equal([...body].length, 1);
  const writesThenFails: WsgiApp = (_e, start) => {
    start('200 OK', [])(enc('sent'));
    start('500 Internal Server Error', [], new Error('late'));
    return [];
  };
  await validator(writesThenFails, { onViolation })(makeEnviron(), lenientStart);
  assert.deepEqual(codes, ['server:exc-info-not-raised', 'server:exc-info-not-raised']);
});

test('wsgi.input reads that do not give bytes are the server at fault', async () => {
  const codes: string[] = [];
  const text = async () => 'text';
  const input = {
    read: text,
    readline: text,
    readlines: async () => ['a', enc('b')],
    [Symbol.asyncIterator]: async function* () {
      yield 'line';
    },
  };
  const app = validator(
    async (environ, start) => {
      const i = environ['wsgi.input'];
      await i.read();
      await i.readline();
      await i.readlines();
      for await (const _ of i);
      start('200 OK', []);
      return [];
    },
    { onViolation: (v) => codes.push(`${v.side}:${v.code}`) },
  );
  await app(makeEnviron({ 'wsgi.input': input }), lenientStart);
  assert.deepEqual(codes, Array(4).fill('server:input-not-bytes'));
});

test('close(): called once by the server, never followed by iteration, and forwarded', async () => {
  let originalCloses = 0;
  const app: WsgiApp = (_e, start) => {
    start('200 OK', []);
    return Object.assign(
      (function* () {
        yield enc('a');
      })(),
      { close: () => void originalCloses++ },
    );
  };
  const codes: string[] = [];
  const body = (await validator(app, { onViolation: (v) => codes.push(v.code) })(
    makeEnviron(),
    lenientStart,
  )) as Iterable<Uint8Array> & ResponseBody;
  await body.close?.();
  assert.equal(originalCloses, 1);
  assert.deepEqual([...body], [enc('a')]);
  await body.close?.();
  assert.equal(originalCloses, 2);
  assert.deepEqual(codes, ['iterate-after-close', 'close-twice']);
});

test('close() not called is reported by assertClosed, to the policy of the validator', async () => {
  const app = replying('200 OK', [], [enc('x')]);
  const body = await validator(app)(makeEnviron(), lenientStart);
  assert.throws(
    () => assertClosed(body),
    (e: WsgiViolation) => e.code === 'close-not-called' && e.side === 'server',
  );
  await body.close?.();
  assert.doesNotThrow(() => assertClosed(body));

  const codes: string[] = [];
  const reported = await validator(app, { onViolation: (v) => codes.push(v.code) })(
    makeEnviron(),
    lenientStart,
  );
  assertClosed(reported);
  assert.deepEqual(codes, ['close-not-called']);
});

test('the validator reports the environ the server passed, before the app runs', async () => {
  const codes: string[] = [];
  let runs = 0;
  const app: WsgiApp = (_e, start) => {
    runs++;
    start('200 OK', []);
    return [];
  };
  const onViolation = (v: WsgiViolation) => codes.push(`${v.side}:${v.code}`);
  await validator(app, { onViolation })(
    makeEnviron({ SERVER_PORT: 80, 'wsgi.url_scheme': 'ftp' }),
    lenientStart,
  );
  assert.deepEqual(codes, ['server:environ-type', 'server:environ-value']);
  assert.equal(runs, 1);
  assert.throws(
    () => validator(app)(makeEnviron({ PATH_INFO: 'x' }), lenientStart),
    (e: WsgiViolation) => e.code === 'environ-value',
  );
  assert.equal(runs, 1, 'a thrown environ violation stops the call before the app');
});

test('the environ side: missing keys, wrong types and forms', () => {
  const codes = (overrides: Record<string, unknown>) =>
    environViolations(makeEnviron(overrides)).map((v) => v.code);
  const cases: Array<[Record<string, unknown>, string[]]> = [
    [{}, []],
    [{ REQUEST_METHOD: undefined }, ['environ-missing-key']],
    [{ 'wsgi.input': undefined }, ['environ-missing-key']],
    [{ SERVER_PORT: 80 }, ['environ-type']],
    [{ HTTP_X_LIST: ['a'] }, ['environ-type']],
    [{ 'wsgi.multithread': 'no' }, ['environ-type']],
    [{ 'wsgi.input': {} }, ['environ-type']],
    [{ 'wsgi.errors': { write() {} } }, ['environ-type']],
    [{ 'wsgi.version': [1, 1] }, ['environ-value']],
    [{ 'wsgi.version': [1, 0, 1] }, ['environ-value']],
    [{ 'wsgi.url_scheme': 'ftp' }, ['environ-value']],
    [{ HTTP_CONTENT_TYPE: 'text/plain' }, ['environ-value']],
    [{ HTTP_CONTENT_LENGTH: '1' }, ['environ-value']],
    [{ CONTENT_LENGTH: '1a' }, ['environ-value']],
    [{ CONTENT_LENGTH: '-1' }, ['environ-value']],
    [{ CONTENT_LENGTH: '' }, []],
    [{ CONTENT_LENGTH: '12' }, []],
    [{ PATH_INFO: 'no-slash' }, ['environ-value']],
    [{ PATH_INFO: '*', REQUEST_METHOD: 'OPTIONS' }, []],
    [{ PATH_INFO: '*' }, ['environ-value']],
    [{ SCRIPT_NAME: 'app' }, ['environ-value']],
    [{ SCRIPT_NAME: '/' }, ['environ-value']],
    [{ SCRIPT_NAME: '/app', PATH_INFO: '' }, []],
    [{ PATH_INFO: '' }, ['environ-value']],
    [{ 'nodicorn.extension': { any: 'thing' } }, []],
  ];
  for (const [overrides, expected] of cases)
    assert.deepEqual(codes(overrides), expected, JSON.stringify(overrides));
  assert.deepEqual(
    environViolations(loose<Environ>(null)).map((v) => v.code),
    ['environ-type'],
  );
});
