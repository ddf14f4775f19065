/**
 * Issue 11.14: out of file descriptors, connections were reset with nothing logged. Under
 * `prlimit --nofile=256:256` the server logs the limit at start, caps its connections below it, logs the
 * connections it drops, and still serves once they are gone.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));
const skip = PRLIMIT === undefined ? 'prlimit (util-linux) is not installed' : false;

let server: RunningNodicorn;
before(async () => {
  if (PRLIMIT === undefined) return;
  server = await startNodicorn([`${repoRoot}dist/examples/echo.js:app`], {
    wrap: [PRLIMIT, '--nofile=256:256'],
  });
});
after(() => server?.stop());

/** Opens a connection and resolves once it is established (or has failed). */
const open = (port: number) =>
  new Promise<net.Socket>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });

test('the open-file limit is logged, with the connection cap below it', { skip }, () => {
  const m = /Open-file limit: 256 \(hard 256\); accepting at most (\d+) connections at once/.exec(
    server.log(),
  );
  assert.ok(m !== null, server.log());
  const cap = Number(m[1]);
  assert.ok(cap > 100 && cap < 256, `cap ${cap}`);
});

test('past the cap, connections are dropped with a log line, and the server still serves', {
  skip,
}, async () => {
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < 300; i++) sockets.push(await open(server.port));
    await server.waitForLog(
      /\[WARNING\] Dropped a connection from 127\.0\.0\.1:\d+: \d+ connections are open/,
    );
    // Every held connection still works: a request on the first one is answered.
    const first = sockets[0]!;
    const answered = new Promise<string>((resolve) => {
      let text = '';
      first.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (text.includes('\r\n\r\n')) resolve(text);
      });
    });
    first.write('GET /held HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.match(await answered, /^HTTP\/1\.1 200 OK/);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  // Once the connections are gone, new ones are served again (the server closes each as it notices).
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { text } = await rawRequest(
      server.port,
      'GET /after HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
    );
    if (/^HTTP\/1\.1 200 OK/.test(text)) break;
    assert.ok(Date.now() < deadline, `not served after the flood: ${JSON.stringify(text)}`);
  }
  assert.doesNotMatch(server.log(), /EMFILE|too many open files/i);
});
