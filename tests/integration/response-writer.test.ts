/**
 * start_response and the response writer, through the real server with a TypeScript app: what reaches the
 * wire for each rule (validation, exc_info, write(), Content-Length, framing, bodiless responses, close()).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { get } from '../helpers/load.js';
import { repoRoot } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { rawRequest, statuses } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

let server: RunningNodicorn;
before(async () => {
  server = await startNodicorn([`${repoRoot}dist/tests/fixtures/apps/rules.js:app`]);
});
after(() => server.stop());

const send = (path: string, version = 'HTTP/1.1', method = 'GET') =>
  rawRequest(server.port, `${method} ${path} ${version}\r\nHost: t\r\n\r\n`, 1000);

test('CR/LF or NUL in a header value, a bad status, a hop-by-hop header: 500, nothing of them on the wire', async () => {
  for (const path of ['/bad-header', '/nul-header', '/bad-status', '/hop']) {
    const { text } = await send(path);
    assert.deepEqual(statuses(text), [500], path);
    assert.doesNotMatch(text, /Injected|X-Bad|Transfer-Encoding: chunked/, path);
  }
  await server.waitForLog(
    'invalid response from the application: invalid characters in the value of header "X-Bad"',
  );
  await server.waitForLog('hop-by-hop header "Transfer-Encoding" is not allowed');
});

test('an app asking for Connection: close gets it', async () => {
  const { text, closedByServer } = await send('/conn-close');
  assert.match(text, /\r\nConnection: close\r\n/);
  assert.ok(closedByServer);
});

test('exc_info before the headers went out replaces them', async () => {
  const { text } = await send('/exc-before');
  assert.match(text, /^HTTP\/1\.1 503 Try Later\r\n/);
  assert.match(text, /X-Second: 2/);
  assert.doesNotMatch(text, /X-First/);
});

test('exc_info after the headers went out re-raises: the connection is aborted, the body left unfinished', async () => {
  const { text, closedByServer } = await send('/exc-after');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*partial/);
  assert.ok(!text.endsWith('0\r\n\r\n'));
  assert.ok(closedByServer);
});

test('the write() callable sends at once, before the returned body', async () => {
  const { body } = await get(server.port, '/write');
  assert.equal(body, 'written returned');
});

test('headers wait for the first non-empty chunk: empty chunks then an exception give a 500', async () => {
  const { text } = await send('/empty-then-raise');
  assert.deepEqual(statuses(text), [500]);
  await server.waitForLog('raised before any byte');
});

test('Content-Length is kept: more bytes than declared are cut and the connection closed', async () => {
  const { text, closedByServer } = await send('/cl-more');
  assert.match(text, /\r\nContent-Length: 5\r\n/);
  assert.ok(text.endsWith('\r\n\r\n12345'), JSON.stringify(text.slice(-20)));
  assert.ok(closedByServer);
});

test('fewer bytes than the declared Content-Length: the connection closes (the client sees a truncation)', async () => {
  const { text, closedByServer } = await send('/cl-less');
  assert.match(text, /\r\nContent-Length: 10\r\n[\s\S]*\r\n\r\n12345$/);
  assert.ok(closedByServer);
});

test('streams are chunked on HTTP/1.1 and close-delimited on HTTP/1.0', async () => {
  const v11 = await send('/stream');
  assert.match(v11.text, /\r\nTransfer-Encoding: chunked\r\n\r\n4\r\none \r\n3\r\ntwo\r\n0\r\n\r\n$/);
  const v10 = await send('/stream', 'HTTP/1.0');
  assert.doesNotMatch(v10.text, /Transfer-Encoding|Content-Length/);
  assert.ok(v10.text.endsWith('\r\n\r\none two'));
  assert.ok(v10.closedByServer);
});

test('a list body gets a Content-Length and a Date header', async () => {
  const { text } = await send('/ok');
  assert.match(text, /\r\nContent-Length: 2\r\n/);
  assert.match(text, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
});

test('no body for HEAD, 204 and 304', async () => {
  const head = await send('/ok', 'HTTP/1.1', 'HEAD');
  assert.match(head.text, /\r\nContent-Length: 2\r\n[\s\S]*\r\n\r\n$/);
  assert.doesNotMatch(head.text, /\r\n\r\nok/);
  for (const path of ['/204', '/304']) {
    const { text } = await send(path);
    assert.ok(text.endsWith('\r\n\r\n'), path);
    assert.doesNotMatch(text, /dropped/);
  }
});

test('an exception before start_response: 500 and the stack in the error log', async () => {
  const { text } = await send('/throw-before');
  assert.deepEqual(statuses(text), [500]);
  await server.waitForLog(
    /Error handling request GET \/throw-before\nError: thrown before start_response\n\s+at /,
  );
});

test('an exception after the headers: aborted, never a clean end; close() still called', async () => {
  const before = Number((await get(server.port, '/closed-count')).body);
  const { text, closedByServer } = await send('/throw-after');
  assert.match(text, /partial/);
  assert.ok(!text.endsWith('0\r\n\r\n'));
  assert.ok(closedByServer);
  assert.equal(Number((await get(server.port, '/closed-count')).body), before + 1);
});

test('close() is called after a normal response and when the client disconnects mid-stream', async () => {
  const before = Number((await get(server.port, '/closed-count')).body);
  await get(server.port, '/stream');
  await new Promise<void>((resolve) => {
    const socket = connect(server.port, '127.0.0.1', () =>
      socket.write('GET /forever HTTP/1.1\r\nHost: t\r\n\r\n'),
    );
    let got = 0;
    socket.on('data', (c) => {
      got += c.length;
      if (got > 200_000) socket.destroy();
    });
    socket.on('close', () => resolve());
  });
  let count = 0;
  await until(
    async () => (count = Number((await get(server.port, '/closed-count')).body)) >= before + 2,
    'two more close() calls',
    5000,
  );
  assert.equal(count, before + 2);
});

test('the validator wrapped around a broken app turns its violation into a 500', async () => {
  const { text } = await send('/validated-broken');
  assert.deepEqual(statuses(text), [500]);
  await server.waitForLog('chunk-not-bytes');
});
