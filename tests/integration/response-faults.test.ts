/**
 * Issue 11 point 2: no response may take the master down. Random statuses and header lists (fast-check,
 * fixed seed) thrown from a Python and a TypeScript app at HTTP/1.1 and HTTP/2 (one `--http2` TLS server
 * per backend, many requests each): every response is either the app's, when rules.ts finds the head
 * valid, or a 500, and the master answers the next request.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkHeaders, checkStatus } from '../../src/contract/rules.js';
import { fixtures, repoRoot } from '../helpers/paths.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const { cert, key } = makeCertificate('nodicorn-faults-');
const tlsArgs = ['--certfile', cert, '--keyfile', key, '--http2'];

interface Reply {
  /** The status the client saw (0: none). */
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The response was cut short (RST_STREAM, or the connection closed early). */
  readonly cut: boolean;
}

interface Spec {
  readonly status: unknown;
  readonly headers: unknown;
  readonly body: string;
  readonly mode: 'list' | 'stream' | 'write';
}

const randomPath = (spec: Spec) =>
  `/random?${Buffer.from(JSON.stringify(spec), 'utf8').toString('base64url')}`;

function h1Get(port: number, path: string): Promise<Reply> {
  return new Promise((resolve) => {
    let status = 0;
    let headers: Reply['headers'] = {};
    const done = (cut: boolean) => resolve({ status, headers, cut });
    const req = https.request(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false, timeout: 10_000 },
      (res) => {
        status = res.statusCode ?? 0;
        headers = res.headers;
        res.on('data', () => {});
        res.on('end', () => done(!res.complete));
        res.on('error', () => done(true));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(true));
    req.end();
  });
}

function h2Get(session: http2.ClientHttp2Session, path: string): Promise<Reply> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': path });
    let status = 0;
    let headers: Reply['headers'] = {};
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 10_000);
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      const code = stream.rstCode;
      resolve({ status, headers, cut: code !== undefined && code !== http2.constants.NGHTTP2_NO_ERROR });
    });
  });
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

const NAMES = [
  'Content-Type',
  'content-type',
  'ETag',
  'Location',
  'Content-Length',
  'Set-Cookie',
  'Content-Encoding',
  'Access-Control-Allow-Origin',
  'Date',
  'Host',
  'X-Echo',
  'Connection',
  'Transfer-Encoding',
  'Keep-Alive',
  'Proxy-Connection',
  'TE',
  ':status',
  'X Bad',
  'X\0Y',
  'X\r\nY',
  '',
  'Caf\u00e9',
];
const VALUE_CHARS = [
  'a',
  'Z',
  '0',
  '5',
  ' ',
  '\t',
  '\0',
  '\r',
  '\n',
  '\x1b',
  '\x7f',
  '\u00e9',
  '\u20ac',
  ';',
  '=',
];
const value = fc.oneof(
  fc.constantFrom('text/plain', '"etag"', '/next', 'close', 'keep-alive', '4', '0', 'abc', 'gzip', ''),
  fc.array(fc.constantFrom(...VALUE_CHARS), { maxLength: 8 }).map((cs) => cs.join('')),
  fc.constantFrom('a\0Set-Cookie\0session=evil', 'b\0Content-Length\x000', 'c\r\nLocation: /evil'),
);
const CLEAN = ['a', 'Z', '0', '5', ' ', '\t', '\u00e9', ';', '='];
const cleanValue = fc.array(fc.constantFrom(...CLEAN), { maxLength: 8 }).map((cs) => cs.join(''));
const header = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(fc.constantFrom(...NAMES.slice(0, 11)), cleanValue) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...NAMES), value) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(['X-Num', 1], ['X-Only'], 'X-A: b', null) },
);
const reason = fc.array(fc.constantFrom('O', 'K', ' ', 'x', '\u00e9', '\0', '\r', '\n', '\u0100'), {
  maxLength: 6,
});
const cleanReason = fc.array(fc.constantFrom('O', 'K', ' ', 'x', '\u00e9', '\t'), { maxLength: 6 });
const status = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.integer({ min: 200, max: 599 }), cleanReason)
      .map(([c, r]) => `${c} ${r.join('')}`),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 1000 }), reason).map(([c, r]) => `${c} ${r.join('')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>('600 Custom', '200 OK', '999 X', '100 Continue', '200', 200, null),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const spec: fc.Arbitrary<Spec> = fc.record({
  status,
  headers: fc.oneof(
    { weight: 20, arbitrary: fc.array(header, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constant<unknown>('nope') },
  ),
  body: fc.constantFrom('', 'hi', 'body bytes'),
  mode: fc.constantFrom('list', 'stream', 'write'),
});

/** Heads generated per outcome, so the property is known to test both. */
const outcomes = { valid: 0, refused: 0 };

/** What the client must see: the app's status when the head is valid, else a 500. */
function expected(s: Spec): number {
  const code = checkStatus(s.status);
  if (typeof code === 'string' || checkHeaders(s.headers) !== null) {
    outcomes.refused++;
    return 500;
  }
  outcomes.valid++;
  return code;
}

const RUNS = 60;

function suite(backend: string, app: () => string[]): void {
  describe(`random heads cannot take the master down: ${backend}`, () => {
    let server: RunningNodicorn;
    before(async () => {
      server = await startNodicorn([...tlsArgs, ...app()]);
    });
    after(() => server.stop());

    test('HTTP/1.1', async () => {
      await fc.assert(
        fc.asyncProperty(spec, async (s) => {
          const reply = await h1Get(server.port, randomPath(s));
          assert.equal(reply.status, expected(s), JSON.stringify(s));
          assert.equal(reply.headers['set-cookie'], undefined);
          const next = await h1Get(server.port, '/ok');
          assert.equal(next.status, 200, 'the master answers the next request');
        }),
        { seed: 11, numRuns: RUNS },
      );
      assert.equal(server.process.exitCode, null);
    });

    test('HTTP/2', async () => {
      let session = await connect(server.port);
      try {
        await fc.assert(
          fc.asyncProperty(spec, async (s) => {
            if (session.destroyed || session.closed) session = await connect(server.port);
            const reply = await h2Get(session, randomPath(s));
            assert.equal(reply.status, expected(s), JSON.stringify(s));
            assert.equal(reply.headers['set-cookie'], undefined);
            const next = await h2Get(session, '/ok');
            assert.equal(next.status, 200, 'the master answers the next request');
          }),
          { seed: 11, numRuns: RUNS },
        );
      } finally {
        session.destroy();
      }
      assert.equal(server.process.exitCode, null);
    });

    test('issue 11: 600 Custom and a repeated Content-Type over HTTP/2 are a 500 and a log line', async () => {
      const session = await connect(server.port);
      try {
        for (const [s, log] of [
          [{ status: '600 Custom', headers: [], body: 'x', mode: 'list' }, /status 600 is outside 100-599/],
          [
            {
              status: '200 OK',
              headers: [
                ['Content-Type', 'text/plain'],
                ['Content-Type', 'text/html'],
              ],
              body: 'x',
              mode: 'stream',
            },
            /.Content-Type. may be sent only once/,
          ],
        ] as Array<[Spec, RegExp]>) {
          assert.equal((await h2Get(session, randomPath(s))).status, 500);
          await server.waitForLog(log);
        }
        const joined = await h2Get(
          session,
          randomPath({
            status: '200 OK',
            headers: [
              ['Content-Encoding', 'identity'],
              ['Content-Encoding', 'identity'],
            ],
            body: 'x',
            mode: 'list',
          }),
        );
        assert.equal(joined.status, 200);
        assert.equal(joined.headers['content-encoding'], 'identity, identity');
      } finally {
        session.destroy();
      }
    });
  });
}

suite('TypeScript', () => [`${repoRoot}dist/tests/fixtures/apps/responses.js:app`]);
suite('Python', () => ['--chdir', `${fixtures}python`, 'responses:application']);

test('the generated heads were valid and invalid alike', (t) => {
  t.diagnostic(JSON.stringify(outcomes));
  assert.ok(outcomes.valid >= 40 && outcomes.refused >= 40, JSON.stringify(outcomes));
});
