/**
 * The slow readers (bench/slow_readers.py through startSlowReaders) against small node:http servers: they
 * really read slowly — the server's writes back up while the readers have taken only a few KiB — and a
 * connection the server closes is opened again. Nothing is timed: the bounds are in bytes per reading
 * tick, counted by the readers themselves.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { startSlowReaders } from '../../../bench/slow-clients.js';

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

const until = async (what: string, done: () => boolean): Promise<void> => {
  for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(done(), `gave up waiting: ${what}`);
};

test('slow readers ask for the path and read it slowly: the server blocks long before 1 MiB is read', async () => {
  const chunk = Buffer.alloc(16384, 'y');
  let requested = '';
  let written = 0;
  let blocked = false;
  let finished = false;
  const server = http.createServer((req, res) => {
    requested = `${req.method} ${req.url} ${req.headers.connection}`;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    const more = (): void => {
      while (written < 1 << 20) {
        written += chunk.length;
        if (!res.write(chunk)) {
          blocked = true;
          res.once('drain', more);
          return;
        }
      }
      finished = true;
      res.end();
    };
    more();
  });
  const port = await listen(server);
  const readers = startSlowReaders(port, 1, { path: '/big', bytesPerSecond: 2048, tickMs: 50 });
  try {
    await readers.ready;
    await until('the server write to back up', () => blocked);
    await until('a few reading ticks', () => readers.ticks() >= 5);
    assert.equal(requested, 'GET /big close');
    const ticks = readers.ticks();
    const consumed = readers.consumed();
    // 2048 B/s every 50 ms: at most 102 bytes a tick; Node's writable buffer and the kernel hold the rest
    assert.ok(consumed <= ticks * 102, `${consumed} bytes read in ${ticks} ticks`);
    assert.ok(consumed < 64 * 1024);
    assert.equal(finished, false, 'the whole 1 MiB went out: nothing waited for the reader');
    assert.deepEqual(readers.stop(), { closedByServer: 0 });
  } finally {
    readers.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a connection the server closes is opened again, so the pressure stays', async () => {
  let connections = 0;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Length': '5', Connection: 'close' });
    res.end('short');
  });
  server.on('connection', () => connections++);
  const port = await listen(server);
  const readers = startSlowReaders(port, 2, { path: '/', bytesPerSecond: 100_000, tickMs: 20 });
  try {
    await readers.ready;
    await until('readers to reconnect', () => connections >= 6);
    const { closedByServer } = readers.stop();
    assert.ok(closedByServer >= 2, `closed ${closedByServer}`);
    assert.ok(readers.consumed() >= 2 * 'short'.length);
  } finally {
    readers.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('readers that cannot connect make ready reject, with the reason', async () => {
  const server = http.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r)); // nothing listens there now
  const readers = startSlowReaders(port, 1, { path: '/' });
  try {
    await assert.rejects(readers.ready, /slow readers exited .*ConnectionRefusedError/s);
  } finally {
    readers.stop();
  }
});
