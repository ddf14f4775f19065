/**
 * HTTP/2 over TLS (`--http2`, ALPN h2 with http/1.1 fallback) against real clients (node:http2 and curl
 * with nghttp2): both backends, the HTTP/2 environ, response rules on the h2 wire, limits, the idle
 * timeout, graceful shutdown with GOAWAY, the access log and metrics.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { examples, fixtures, repoRoot } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { type RunningNodicorn, startNodicorn, withNodicorn } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const { cert, key } = makeCertificate('nodicorn-h2-');
const tlsArgs = ['--certfile', cert, '--keyfile', key];
const TS_ECHO = `${repoRoot}dist/examples/echo.js:app`;
const RULES = `${repoRoot}dist/tests/fixtures/apps/rules.js:app`;

interface H2Reply {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  /** Set when the stream ended with RST_STREAM or an error instead of a complete response. */
  readonly error?: string;
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** One request on `session`; always settles (a reset stream gives `error`), within 10 s. */
function request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
): Promise<H2Reply> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let got: http2.IncomingHttpHeaders = {};
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 10_000);
    stream.on('response', (h) => {
      got = h;
      status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      const code = stream.rstCode;
      resolve({
        status,
        headers: got,
        body: Buffer.concat(chunks),
        ...(code !== undefined && code !== http2.constants.NGHTTP2_NO_ERROR ? { error: `RST ${code}` } : {}),
      });
    });
    if (body !== undefined) stream.end(body);
  });
}

/** Runs `use` on a fresh session to `port`, closed afterwards whatever happens. */
async function onSession<T>(
  port: number,
  use: (session: http2.ClientHttp2Session) => Promise<T>,
): Promise<T> {
  const session = await connect(port);
  try {
    return await use(session);
  } finally {
    session.destroy();
  }
}

const h2 = (port: number, headers: http2.OutgoingHttpHeaders, body?: Buffer | string) =>
  onSession(port, (session) => request(session, headers, body));

const environOf = (reply: H2Reply) =>
  (JSON.parse(reply.body.toString('latin1')) as { environ: Record<string, string> }).environ;

function curl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sk', '--max-time', '10', ...args], (error, stdout) =>
      error === null ? resolve(stdout) : reject(error),
    ),
  );
}

/** The environ checks that hold for an HTTP/2 request whatever the backend. */
function assertH2Environ(env: Record<string, string>, port: number) {
  assert.equal(env.SERVER_PROTOCOL, 'HTTP/2');
  assert.equal(env.HTTP_HOST, `127.0.0.1:${port}`, 'HTTP_HOST from :authority');
  assert.equal(env.SERVER_NAME, '127.0.0.1');
  assert.equal(env.SERVER_PORT, String(port));
  assert.equal(env['wsgi.url_scheme'], 'https');
  assert.equal(env.REQUEST_METHOD, 'POST');
  assert.equal(env.PATH_INFO, '/a b');
  assert.equal(env.QUERY_STRING, 'q=1');
  assert.equal(env.RAW_URI, '/a%20b?q=1');
  assert.equal(env.HTTP_COOKIE, 'a=1; b=2', 'cookie fields joined with "; " (RFC 9113 §8.2.3)');
  assert.equal(env.HTTP_X_TWICE, 'one,two');
  assert.equal(env.CONTENT_TYPE, 'text/plain');
  for (const k of Object.keys(env)) assert.ok(!/^HTTP__|^HTTP_:|^:/.test(k), `no pseudo-header key ${k}`);
  assert.ok(
    !('HTTP_METHOD' in env) && !('HTTP_PATH' in env) && !('HTTP_AUTHORITY' in env) && !('HTTP_SCHEME' in env),
  );
}

const ECHO_REQUEST = {
  ':method': 'POST',
  ':path': '/a%20b?q=1',
  'content-type': 'text/plain',
  cookie: ['a=1', 'b=2'],
  'x-twice': ['one', 'two'],
};

describe('a TypeScript app over HTTP/2', () => {
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn([...tlsArgs, '--http2', '--limit-request-body', '1000', TS_ECHO]);
  });
  after(() => server.stop());

  test('node:http2 client: the HTTP/2 environ and the body', async () => {
    const reply = await h2(server.port, ECHO_REQUEST, 'hello h2');
    assert.equal(reply.status, 200);
    const env = environOf(reply);
    assertH2Environ(env, server.port);
    assert.equal((JSON.parse(reply.body.toString()) as { body: string }).body, 'hello h2');
  });

  test('curl --http2 negotiates h2 and gets the app answer', async () => {
    const out = await curl(['--http2', '-w', '\n%{http_version}', `https://127.0.0.1:${server.port}/curl`]);
    const [json, version] = out.split('\n');
    assert.equal(version, '2');
    assert.equal(
      (JSON.parse(json!) as { environ: Record<string, string> }).environ.SERVER_PROTOCOL,
      'HTTP/2',
    );
  });

  test('an HTTP/1.1 client on the same port is still served', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port: server.port, path: '/h1', rejectUnauthorized: false, agent: false },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
    assert.equal(
      (JSON.parse(body) as { environ: Record<string, string> }).environ.SERVER_PROTOCOL,
      'HTTP/1.1',
    );
    const out = await curl([
      '--http1.1',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version}',
      `https://127.0.0.1:${server.port}/`,
    ]);
    assert.equal(out, '1.1');
  });

  test('an HTTP/1.1 connection whose request line says HTTP/2.0 gets 505; the server stays up', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] },
        () => socket.end('GET / HTTP/2.0\r\nHost: a\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 505 /);
    assert.equal((await h2(server.port, ECHO_REQUEST, 'still up')).status, 200);
  });

  test('a body over --limit-request-body gets 413, with or without content-length', async () => {
    const big = Buffer.alloc(2000, 0x61);
    const declared = await h2(
      server.port,
      { ':method': 'POST', ':path': '/', 'content-length': '2000' },
      big,
    );
    assert.equal(declared.status, 413);
    const streamed = await h2(server.port, { ':method': 'POST', ':path': '/' }, big);
    assert.equal(streamed.status, 413);
  });

  test('a Host that disagrees with :authority is a malformed request (400)', async () => {
    const reply = await h2(server.port, {
      ':path': '/',
      ':authority': `127.0.0.1:${server.port}`,
      host: 'elsewhere.example',
    });
    assert.equal(reply.status, 400);
  });

  test('CONNECT is refused with 405', async () => {
    await onSession(server.port, async (session) => {
      const reply = await request(session, { ':method': 'CONNECT', ':authority': 'example.com:443' });
      assert.equal(reply.status, 405);
    });
  });
});

describe('a Python app over HTTP/2', () => {
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn([...tlsArgs, '--http2', '--chdir', examples, 'echo:application']);
  });
  after(() => server.stop());

  test('node:http2 client: the same HTTP/2 environ as the TypeScript app', async () => {
    const reply = await h2(server.port, ECHO_REQUEST, 'hello python');
    assert.equal(reply.status, 200);
    assertH2Environ(environOf(reply), server.port);
    assert.equal((JSON.parse(reply.body.toString()) as { body: string }).body, 'hello python');
  });

  test('curl --http2 with a body; an HTTP/1.1 client on the same port', async () => {
    const out = await curl(['--http2', '-d', 'x=1', `https://127.0.0.1:${server.port}/py`]);
    const seen = JSON.parse(out) as { environ: Record<string, string>; body: string };
    assert.equal(seen.environ.SERVER_PROTOCOL, 'HTTP/2');
    assert.equal(seen.environ.CONTENT_LENGTH, '3');
    assert.equal(seen.body, 'x=1');
    const h1 = JSON.parse(await curl(['--http1.1', `https://127.0.0.1:${server.port}/py`])) as {
      environ: Record<string, string>;
    };
    assert.equal(h1.environ.SERVER_PROTOCOL, 'HTTP/1.1');
  });

  test('several streams at once on one connection', async () => {
    await onSession(server.port, async (session) => {
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) => request(session, { ':path': `/n${i}` })),
      );
      assert.deepEqual(
        replies.map((r) => environOf(r).PATH_INFO),
        Array.from({ length: 8 }, (_, i) => `/n${i}`),
      );
    });
  });
});

test('a Python request past --timeout gets 504 over HTTP/2; a worker crash a 502; the session goes on', async () => {
  await withNodicorn(
    [...tlsArgs, '--http2', '--timeout', '1', '--chdir', `${fixtures}python`, 'faults:application'],
    async (server) => {
      await onSession(server.port, async (session) => {
        const [hung, crashed] = await Promise.all([
          request(session, { ':path': '/hang' }),
          request(session, { ':path': '/kill' }),
        ]);
        assert.equal(hung.status, 504);
        assert.equal(crashed.status, 502);
        assert.equal((await request(session, { ':path': '/sleep/0' })).body.toString(), 'slept');
      });
    },
  );
});

describe('response rules on the HTTP/2 wire', () => {
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn([...tlsArgs, '--http2', '--limit-request-fields', '10', RULES]);
  });
  after(() => server.stop());

  test('no connection-specific header reaches the wire; the session outlives Connection: close', async () => {
    await onSession(server.port, async (session) => {
      const closed = await request(session, { ':path': '/conn-close' });
      assert.equal(closed.status, 200);
      assert.equal(closed.body.toString(), 'bye');
      assert.equal(closed.headers.connection, undefined);
      const proxied = await request(session, { ':path': '/proxy-connection' });
      assert.equal(proxied.status, 200);
      assert.equal(proxied.headers['proxy-connection'], undefined);
      // A hop-by-hop header from the app is refused (PEP 3333): 500, on the same session.
      assert.equal((await request(session, { ':path': '/hop' })).status, 500);
      assert.equal((await request(session, { ':path': '/ok' })).body.toString(), 'ok');
    });
  });

  test('HEAD, 204 and 304 carry no body; a streamed body arrives whole', async () => {
    await onSession(server.port, async (session) => {
      const head = await request(session, { ':method': 'HEAD', ':path': '/ok' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '2');
      assert.equal(head.body.length, 0);
      for (const code of [204, 304]) {
        const reply = await request(session, { ':path': `/${code}` });
        assert.equal(reply.status, code);
        assert.equal(reply.body.length, 0);
      }
      const stream = await request(session, { ':path': '/stream' });
      assert.equal(stream.body.toString(), 'one two');
      assert.equal(stream.error, undefined);
    });
  });

  test('a body short of its Content-Length resets the stream, not the connection', async () => {
    await onSession(server.port, async (session) => {
      const short = await request(session, { ':path': '/cl-less' });
      assert.match(short.error ?? '', /^RST /);
      assert.equal((await request(session, { ':path': '/ok' })).body.toString(), 'ok');
    });
  });

  test('backpressure: a client that stops reading stops the app; a reset stream closes its body', async () => {
    await onSession(server.port, async (session) => {
      const closesBefore = Number((await request(session, { ':path': '/closed-count' })).body.toString());
      const stream = session.request({ ':path': '/flood' });
      await new Promise((resolve) => stream.once('response', resolve));
      stream.pause();
      // Wait for the app to stop producing (two reads of its count alike); without backpressure it never
      // would, and would have produced thousands of 64 KiB blocks.
      const count = async (path: string) =>
        Number((await request(session, { ':path': path })).body.toString());
      let last = -1;
      await until(async () => {
        const now = await count('/flood-count');
        const stopped = now === last;
        last = now;
        return stopped;
      }, 'the app to stop producing');
      assert.ok(last < 64, `the app produced ${last} blocks for a client that reads nothing`);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await new Promise((r) => stream.once('close', r));
      await until(async () => (await count('/closed-count')) > closesBefore, 'close() for the reset stream');
      assert.equal(
        await count('/closed-count'),
        closesBefore + 1,
        'PEP 3333 close() ran for the reset stream',
      );
    });
  });

  test('header limits: too many fields (one over, or hundreds over) or one too large gets 431', async () => {
    // Hundreds over: node:http2 resets such a stream unless told to read that many fields.
    for (const count of [11, 500]) {
      const many: http2.OutgoingHttpHeaders = { ':path': '/ok' };
      for (let i = 0; i < count; i++) many[`x-h${i}`] = 'v';
      const reply = await h2(server.port, many);
      assert.equal(reply.error, undefined, `${count} fields: the stream was reset`);
      assert.equal(reply.status, 431, `${count} fields`);
    }
    assert.equal((await h2(server.port, { ':path': '/ok', 'x-big': 'v'.repeat(9000) })).status, 431);
  });
});

describe('HTTP/2 sessions: idle timeout, graceful shutdown, access log, metrics', () => {
  test('an idle session is closed with GOAWAY after --keep-alive', async () => {
    await withNodicorn([...tlsArgs, '--http2', '--keep-alive', '1', TS_ECHO], async (server) => {
      const session = await connect(server.port);
      assert.equal((await request(session, { ':path': '/' })).status, 200);
      const goaway = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 8000);
        session.once('goaway', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      assert.ok(goaway, 'the server sent GOAWAY');
      session.destroy();
    });
  });

  test('SIGTERM: the stream in flight finishes, the session gets GOAWAY, the server exits', async () => {
    const server = await startNodicorn([...tlsArgs, '--http2', RULES]);
    const session = await connect(server.port);
    try {
      const slow = request(session, { ':path': '/slow' });
      await server.waitForLog('slow: started');
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      const exited = server.stop('SIGTERM');
      await goaway;
      const reply = await slow;
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), 'slow done');
      assert.equal(await exited, 0);
    } finally {
      session.destroy();
      await server.stop();
    }
  });

  test('the access log shows HTTP/2 requests; metrics count them', async () => {
    await withNodicorn(
      [...tlsArgs, '--http2', '--access-logfile', '-', '--metrics-bind', '127.0.0.1:0', RULES],
      async (server) => {
        assert.equal((await h2(server.port, { ':path': '/ok?x=1' })).status, 200);
        await server.waitForLog(/"GET \/ok\?x=1 HTTP\/2" 200 2 /);
        const metricsUrl = /Listening at: (http:\/\/\S+\/metrics)/.exec(server.log())![1]!;
        const text = await (await fetch(metricsUrl)).text();
        assert.match(text, /^nodicorn_requests_total\{status="200"\} 1$/m);
      },
    );
  });
});

test('without --http2, TLS offers only http/1.1 through ALPN', async () => {
  await withNodicorn([...tlsArgs, TS_ECHO], async (server) => {
    const protocol = await new Promise<string | false>((resolve, reject) => {
      const socket = tls.connect(
        {
          host: '127.0.0.1',
          port: server.port,
          rejectUnauthorized: false,
          ALPNProtocols: ['h2', 'http/1.1'],
        },
        () => {
          resolve(socket.alpnProtocol ?? false);
          socket.destroy();
        },
      );
      socket.on('error', reject);
    });
    assert.equal(protocol, 'http/1.1');
    const out = await curl([
      '--http2',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version}',
      `https://127.0.0.1:${server.port}/`,
    ]);
    assert.equal(out, '1.1');
  });
});

test('--health-path is answered by the server over HTTP/2 too, never by the app', async () => {
  await withNodicorn([...tlsArgs, '--http2', '--health-path', '/healthz', TS_ECHO], async (server) => {
    const [health, app] = await onSession(server.port, (session) =>
      Promise.all([
        request(session, { ':path': '/healthz', ':method': 'GET' }),
        request(session, { ':path': '/other', ':method': 'GET' }),
      ]),
    );
    assert.equal(health.status, 200);
    assert.equal(health.body.toString(), 'ok\n');
    assert.equal(health.headers['cache-control'], 'no-store');
    assert.equal(app.status, 200);
    assert.equal(
      (JSON.parse(app.body.toString()) as { environ: { PATH_INFO: string } }).environ.PATH_INFO,
      '/other',
    );
  });
});
