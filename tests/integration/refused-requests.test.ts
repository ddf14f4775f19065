/**
 * Issue 11.12: every response the server makes itself (what llhttp refuses, what the head checks refuse,
 * CONNECT) shows in the access log like any other, with a one-line reason in the error log at the
 * default level (info), rate-limited.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { rawRequest, statuses } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

const APP = `${repoRoot}dist/examples/echo.js:app`;
let server: RunningNodicorn;
before(async () => {
  server = await startNodicorn([APP, '--access-logfile', '-', '--limit-request-fields', '5']);
});
after(() => server.stop());

/** Sends `bytes`, expects `status`, and waits for the access-log line showing it. */
async function refused(bytes: string, status: number, accessLine: RegExp, errorLine: RegExp) {
  const { text, closedByServer } = await rawRequest(server.port, bytes);
  assert.deepEqual(statuses(text), [status], text);
  assert.ok(closedByServer);
  await server.waitForLog(accessLine);
  await server.waitForLog(errorLine);
}

test('an unknown method (llhttp accepts only its own list) is logged: access line and reason', async () => {
  await refused(
    'FOO /x HTTP/1.1\r\nHost: t\r\n\r\n',
    400,
    /^127\.0\.0\.1 - - \[[^\]]+\] "FOO \/x HTTP\/1\.1" 400 12 "-" "-"$/m,
    /\[INFO\] Refused FOO \/x from 127\.0\.0\.1: 400 HPE_INVALID_METHOD/,
  );
  await refused(
    'VERSION-CONTROL /v HTTP/1.1\r\nHost: t\r\n\r\n',
    400,
    /"VERSION-CONTROL \/v HTTP\/1\.1" 400 12/,
    /\[INFO\] Refused VERSION-CONTROL \/v from 127\.0\.0\.1: 400/,
  );
});

test('a raw UTF-8 byte in the path is logged, escaped', async () => {
  await refused(
    'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n',
    400,
    /"GET \/caf\\xc3\\xa9 HTTP\/1\.1" 400 12/,
    /\[INFO\] Refused GET \/caf\\xc3\\xa9 from 127\.0\.0\.1: 400/,
  );
});

test('a 431 from the head checks is logged with the request line and User-Agent', async () => {
  const fields = Array.from({ length: 6 }, (_, i) => `X-${i}: v\r\n`).join('');
  await refused(
    `GET /many HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1\r\n${fields}\r\n`,
    431,
    /"GET \/many HTTP\/1\.1" 431 \d+ "-" "probe\/1"$/m,
    /\[INFO\] Refused GET \/many from 127\.0\.0\.1: 431 more than 5 header fields/,
  );
});

test('a head larger than llhttp buffers (431 from the parser) is logged', async () => {
  await refused(
    `GET /big HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`,
    431,
    /" 431 \d+ "-" "-"$/m,
    /\[INFO\] Refused .* from 127\.0\.0\.1: 431 HPE_HEADER_OVERFLOW/,
  );
});

test('a transfer coding not supported (501) and CONNECT (405) are logged', async () => {
  await refused(
    'POST /te HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    501,
    /"POST \/te HTTP\/1\.1" 501 /,
    /Refused POST \/te from 127\.0\.0\.1: 501 transfer coding \\x22gzip, chunked\\x22 is not supported/,
  );
  await refused(
    'CONNECT h.test:443 HTTP/1.1\r\nHost: h.test:443\r\n\r\n',
    405,
    /"CONNECT h\.test:443 HTTP\/1\.1" 405 - /,
    /Refused CONNECT h\.test:443 from 127\.0\.0\.1: 405/,
  );
});

test('a flood of refused requests: at most 20 error lines a window, the rest counted; the server still serves', async () => {
  const before = server
    .log()
    .split('\n')
    .filter((l) => l.includes('Refused')).length;
  for (let i = 0; i < 60; i++) await rawRequest(server.port, `BAD${i} / HTTP/1.1\r\nHost: t\r\n\r\n`);
  await server.waitForLog(/"BAD59 \/ HTTP\/1\.1" 400/);
  const lines =
    server
      .log()
      .split('\n')
      .filter((l) => l.includes('Refused')).length - before;
  assert.ok(lines <= 20, `${lines} error lines for 60 refused requests`);
  const access = server
    .log()
    .split('\n')
    .filter((l) => /"BAD\d+ \/ HTTP\/1\.1" 400/.test(l)).length;
  assert.equal(access, 60, 'every refused request has its access-log line');
  const { text } = await rawRequest(server.port, 'GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 200 OK/);
});
