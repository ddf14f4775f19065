/**
 * The HTTP front with the real server and raw sockets: keep-alive, pipelining, 100-continue, limits,
 * smuggling probes and malformed requests (each refused with the connection closed, the server alive).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { rawRequest, statuses } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn, withNodicorn } from '../helpers/server.js';

const APP = `${repoRoot}dist/tests/fixtures/apps/rules.js:app`;
let server: RunningNodicorn;
before(async () => {
  server = await startNodicorn([
    APP,
    '--limit-request-line',
    '200',
    '--limit-request-fields',
    '20',
    '--limit-request-field_size',
    '300',
    '--limit-request-body',
    '1000',
    '--header-timeout',
    '1',
  ]);
});
after(() => server.stop());

async function stillAnswers(): Promise<void> {
  const { text } = await rawRequest(server.port, 'GET /ok HTTP/1.1\r\nHost: t\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
}

describe('connections', () => {
  test('keep-alive: two requests on one connection', async () => {
    const { text, closedByServer } = await rawRequest(server.port, 'GET /ok HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.ok(!closedByServer);
    const two = await rawRequest(
      server.port,
      'GET /ok HTTP/1.1\r\nHost: t\r\n\r\nGET /conn-close HTTP/1.1\r\nHost: t\r\n\r\n',
    );
    assert.deepEqual(statuses(two.text), [200, 200]);
    assert.match(text, /Connection: keep-alive/);
  });

  test('pipelined requests are answered in order', async () => {
    const { text } = await rawRequest(
      server.port,
      'GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\nGET /closed-count HTTP/1.1\r\nHost: t\r\n\r\n',
      2000,
    );
    assert.deepEqual(statuses(text), [200, 200, 200]);
    assert.ok(text.indexOf('slow done') < text.indexOf('\r\n\r\nok'));
  });

  test('Expect: 100-continue gets 100 Continue on HTTP/1.1, not on HTTP/1.0', async () => {
    const v11 = await exchangeWithContinue('HTTP/1.1');
    assert.match(v11, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*read 5$/);
    const v10 = await rawRequest(
      server.port,
      'POST /read-body HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello',
    );
    assert.doesNotMatch(v10.text, /100 Continue/);
    assert.match(v10.text, /read 5$/);
  });

  test('Expect: 100-continue with a body over the limit: 413 and no 100', async () => {
    const { text } = await rawRequest(
      server.port,
      'POST /read-body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n',
    );
    assert.deepEqual(statuses(text), [413]);
  });

  test('a small body the app ignores is drained: the next pipelined request is answered', async () => {
    const { text } = await rawRequest(
      server.port,
      'POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789GET /ok HTTP/1.1\r\nHost: t\r\n\r\n',
    );
    assert.deepEqual(statuses(text), [200, 200]);
    assert.match(text, /\r\n\r\nok$/);
  });

  test('a unix socket bind serves too', async () => {
    const path = `/tmp/nodicorn-test-${process.pid}.sock`;
    await withNodicorn(
      [APP],
      async () => {
        const text = await new Promise<string>((resolve, reject) => {
          const socket = connect(path, () => socket.end('GET /ok HTTP/1.0\r\n\r\n'));
          let data = '';
          socket.on('data', (c) => (data += c.toString('latin1')));
          socket.on('close', () => resolve(data));
          socket.on('error', reject);
        });
        assert.match(text, /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok$/);
      },
      { bind: [`unix:${path}`] },
    );
  });

  test('SIGTERM: the request in flight finishes, then the server exits 0', async () => {
    await withNodicorn([APP], async (own) => {
      const inFlight = rawRequest(own.port, 'GET /slow HTTP/1.1\r\nHost: t\r\n\r\n', 3000);
      await own.waitForLog('slow: started');
      const code = own.stop('SIGTERM');
      const { text } = await inFlight;
      assert.match(text, /^HTTP\/1\.1 200 OK[\s\S]*slow done$/);
      assert.equal(await code, 0);
    });
  });
});

describe('limits', () => {
  test('request line too long: 414', async () => {
    const { text, closedByServer } = await rawRequest(
      server.port,
      `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: t\r\n\r\n`,
    );
    assert.deepEqual(statuses(text), [414]);
    assert.ok(closedByServer);
  });

  test('too many header fields: 431', async () => {
    const headers = Array.from({ length: 25 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const { text } = await rawRequest(server.port, `GET / HTTP/1.1\r\nHost: t\r\n${headers}\r\n`);
    assert.deepEqual(statuses(text), [431]);
  });

  test('a header field too large: 431', async () => {
    const { text } = await rawRequest(
      server.port,
      `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(400)}\r\n\r\n`,
    );
    assert.deepEqual(statuses(text), [431]);
  });

  test('a body over --limit-request-body: 413, by Content-Length and while reading chunks', async () => {
    const declared = await rawRequest(
      server.port,
      'POST /read-body HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n',
    );
    assert.deepEqual(statuses(declared.text), [413]);
    const chunk = 'x'.repeat(600);
    const chunked = await rawRequest(
      server.port,
      `POST /read-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
    );
    assert.deepEqual(statuses(chunked.text), [413]);
    assert.ok(chunked.closedByServer);
  });

  test('a client dribbling its headers past --header-timeout: 408 and closed', async () => {
    const text = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: t\r\n'));
      const drip = setInterval(() => socket.writable && socket.write('X-Drip: 1\r\n'), 200);
      let data = '';
      socket.on('data', (c) => (data += c.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(drip);
        resolve(data);
      });
      setTimeout(() => socket.destroy(), 8000);
    });
    assert.deepEqual(statuses(text), [408]);
  });
});

describe('malformed requests: refused, connection closed, server alive', () => {
  const probes: Array<[string, string, number]> = [
    [
      'Content-Length with Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    [
      'duplicate Content-Length, same value',
      'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
      400,
    ],
    [
      'duplicate Content-Length, different values',
      'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      400,
    ],
    ['Content-Length as a list', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1,1\r\n\r\na', 400],
    ['Content-Length with a sign', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc', 400],
    [
      'chunk size 0x3',
      'POST /read-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n',
      400,
    ],
    [
      'chunk size +3',
      'POST /read-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n',
      400,
    ],
    [
      'chunk size zz',
      'POST /read-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      400,
    ],
    [
      'CR in a chunk extension',
      'POST /read-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\rb\r\nabc\r\n0\r\n\r\n',
      400,
    ],
    ['bare LF line endings', 'GET / HTTP/1.1\nHost: t\n\n', 400],
    ['a bare LF inside the headers', 'GET / HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n', 400],
    ['NUL in a header value', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: b\u0000c\r\n\r\n', 400],
    [
      '\\x0b before chunked',
      'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \u000bchunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    [
      'Transfer-Encoding twice',
      'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    [
      'a transfer coding other than chunked',
      'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      501,
    ],
    [
      'chunked on HTTP/1.0',
      'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      400,
    ],
    ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['space before the colon', 'GET / HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n', 400],
    ['empty header name', 'GET / HTTP/1.1\r\nHost: t\r\n: b\r\n\r\n', 400],
    ['invalid method characters', 'G(T / HTTP/1.1\r\nHost: t\r\n\r\n', 400],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: t\r\n\r\n', 400],
    ['HTTP/2.0 in an HTTP/1 request line', 'GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505],
    ['authority-form outside CONNECT', 'GET t:80 HTTP/1.1\r\nHost: t\r\n\r\n', 400],
    ['asterisk-form outside OPTIONS', 'GET * HTTP/1.1\r\nHost: t\r\n\r\n', 400],
    ['CONNECT (not a proxy)', 'CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n', 405],
  ];
  for (const [name, request, status] of probes) {
    test(`${name}: ${status}`, async () => {
      const { text, closedByServer } = await rawRequest(
        server.port,
        `${request}GET /ok HTTP/1.1\r\nHost: t\r\n\r\n`,
      );
      assert.deepEqual(statuses(text), [status], text);
      assert.ok(closedByServer, 'the connection must be closed');
      await stillAnswers();
    });
  }
});

function exchangeWithContinue(version: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () =>
      socket.write(
        `POST /read-body ${version}\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`,
      ),
    );
    let data = '';
    socket.on('data', (c) => {
      data += c.toString('latin1');
      if (data.includes('100 Continue\r\n\r\n') && !data.includes('200')) socket.write('hello');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 5000);
  });
}
