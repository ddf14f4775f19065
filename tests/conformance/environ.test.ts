/**
 * One conformance suite, two backends: the same requests go to the TypeScript echo app (in-process) and
 * the Python echo app (worker processes). Each must see the environ PEP 3333 prescribes, and both must
 * see the same one, key for key, except where a case says why they differ (`perBackend`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { examples, repoRoot } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

type Environ = Record<string, unknown>;

interface Case {
  readonly name: string;
  readonly request: string;
  readonly expect: Environ;
  readonly body?: string;
  /** Keys the backends are meant to see differently, with each one's value (and the reason, in the case). */
  readonly perBackend?: Readonly<Record<string, { readonly TypeScript: unknown; readonly Python: unknown }>>;
}

const CASES: Case[] = [
  {
    name: 'GET with a query',
    request: 'GET /a/b?x=1&y=%20z HTTP/1.1\r\nHost: conf.test\r\n\r\n',
    expect: {
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '',
      PATH_INFO: '/a/b',
      QUERY_STRING: 'x=1&y=%20z',
      RAW_URI: '/a/b?x=1&y=%20z',
      SERVER_NAME: 'conf.test',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REMOTE_ADDR: '127.0.0.1',
      HTTP_HOST: 'conf.test',
      'wsgi.url_scheme': 'http',
      'wsgi.version': [1, 0],
      'wsgi.input_terminated': true,
      'wsgi.run_once': false,
    },
  },
  {
    name: 'percent-decoded bytes shown as latin-1, %2F and %00 included',
    request: 'GET /caf%C3%A9/a%2Fb/%00/%FF%25 HTTP/1.1\r\nHost: conf.test:8080\r\n\r\n',
    expect: {
      PATH_INFO: '/caf\u00c3\u00a9/a/b/\u0000/\u00ff%',
      SERVER_NAME: 'conf.test',
      SERVER_PORT: '8080',
    },
  },
  {
    name: 'POST with a body: CONTENT_TYPE and CONTENT_LENGTH, no HTTP_ twins',
    request:
      'POST /p HTTP/1.1\r\nHost: conf.test\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    expect: {
      REQUEST_METHOD: 'POST',
      CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '5',
      HTTP_CONTENT_TYPE: undefined,
      HTTP_CONTENT_LENGTH: undefined,
    },
    body: 'hello',
  },
  {
    name: 'chunked POST: the whole body readable; CONTENT_LENGTH for Python apps only',
    request:
      'POST /c HTTP/1.1\r\nHost: conf.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n',
    expect: { HTTP_TRANSFER_ENCODING: 'chunked', 'wsgi.input_terminated': true },
    // A Python worker gets the request once its body has arrived in full, so its length is known (Django
    // and Bottle read exactly CONTENT_LENGTH bytes); a TypeScript app reads wsgi.input as it arrives.
    perBackend: { CONTENT_LENGTH: { TypeScript: undefined, Python: '7' } },
    body: 'abcdefg',
  },
  {
    name: 'repeated headers joined with ",", names with "_" dropped',
    request:
      'GET / HTTP/1.1\r\nHost: conf.test\r\nX-Multi: a\r\nX-Multi: b\r\nX_User: evil\r\nX-User: good\r\n\r\n',
    expect: { HTTP_X_MULTI: 'a,b', HTTP_X_USER: 'good' },
  },
  {
    name: 'a request without Host on HTTP/1.0 uses the bound address',
    request: 'GET /old HTTP/1.0\r\n\r\n',
    expect: { SERVER_PROTOCOL: 'HTTP/1.0', SERVER_NAME: '127.0.0.1', HTTP_HOST: undefined },
  },
  {
    name: 'absolute-form target: its authority is the host',
    request: 'GET http://other.test:9000/abs?q HTTP/1.1\r\nHost: conf.test\r\n\r\n',
    expect: {
      PATH_INFO: '/abs',
      QUERY_STRING: 'q',
      SERVER_NAME: 'other.test',
      SERVER_PORT: '9000',
      HTTP_HOST: 'other.test:9000',
    },
  },
  {
    name: 'a __proto__ header is just a header',
    request: 'GET / HTTP/1.1\r\nHost: conf.test\r\n__proto__: x\r\nConstructor: y\r\n\r\n',
    expect: { HTTP_CONSTRUCTOR: 'y', HTTP___PROTO__: undefined },
  },
];

/** Keys that legitimately differ between two servers: ports of the test connections. */
const PER_CONNECTION = new Set(['REMOTE_PORT']);

function echoed(text: string): { environ: Environ; body: string } {
  const split = text.indexOf('\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, text.slice(0, 200));
  return JSON.parse(text.slice(split + 4)) as { environ: Environ; body: string };
}

const seen = new Map<string, Map<string, Environ>>();

function suite(backend: string, start: () => Promise<RunningNodicorn>): void {
  describe(`conformance: ${backend}`, () => {
    let server: RunningNodicorn;
    before(async () => {
      server = await start();
    });
    after(() => server.stop());
    for (const c of CASES) {
      test(c.name, async () => {
        const { environ, body } = echoed((await rawRequest(server.port, c.request)).text);
        for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(environ[key], value, key);
        for (const [key, values] of Object.entries(c.perBackend ?? {}))
          assert.deepEqual(environ[key], values[backend as 'TypeScript' | 'Python'], key);
        assert.equal(body, c.body ?? '');
        for (const [key, value] of Object.entries(environ)) {
          if (key.startsWith('wsgi.') || key === 'wsgi.version') continue;
          assert.equal(typeof value, 'string', `${key} must be a string`);
        }
        const byCase = seen.get(c.name) ?? new Map<string, Environ>();
        byCase.set(backend, environ);
        seen.set(c.name, byCase);
      });
    }
  });
}

suite('TypeScript', () => startNodicorn([`${repoRoot}dist/examples/echo.js:app`]));
suite('Python', () => startNodicorn(['--chdir', examples, 'echo:application']));

describe('conformance: both backends', () => {
  for (const c of CASES) {
    test(`same environ: ${c.name}`, () => {
      const byCase = seen.get(c.name);
      assert.ok(byCase?.has('TypeScript') && byCase.has('Python'), 'both suites ran');
      const ts = { ...byCase!.get('TypeScript')! };
      const py = { ...byCase!.get('Python')! };
      for (const e of [ts, py]) {
        for (const key of PER_CONNECTION) delete e[key];
        for (const key of Object.keys(c.perBackend ?? {})) delete e[key];
        // Without a Host header SERVER_PORT is each test server's own port.
        if (e.HTTP_HOST === undefined) delete e.SERVER_PORT;
      }
      assert.deepEqual(ts, py);
    });
  }
});
