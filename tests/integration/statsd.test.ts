/** StatsD: a real UDP socket receives Gunicorn's metric lines, which move as requests are served. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { Progress } from '../helpers/processes.js';
import { startNodicorn } from '../helpers/server.js';

/** A StatsD server: every packet received, and the lines in them. */
async function statsdServer() {
  const socket = dgram.createSocket('udp4');
  const packets: string[] = [];
  const progress = new Progress();
  socket.on('message', (m) => {
    packets.push(m.toString('ascii'));
    progress.notify();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const lines = () => packets.flatMap((p) => p.split('\n'));
  /** The sum of a counter's values, over every line received. */
  const total = (name: string) =>
    lines()
      .filter((l) => l.startsWith(`${name}:`))
      .reduce((sum, l) => sum + Number(l.slice(name.length + 1).split('|')[0]), 0);
  const until = (check: () => boolean) =>
    progress.until(check, () => `a line; lines so far:\n${lines().join('\n')}`, 5000);
  return {
    port: (socket.address() as { port: number }).port,
    packets,
    lines,
    total,
    until,
    close: () => socket.close(),
  };
}

test("requests, statuses, durations, workers and log levels, under Gunicorn's names, prefixed and tagged", async () => {
  const statsd = await statsdServer();
  const server = await startNodicorn([
    '--chdir',
    `${fixtures}python`,
    'faults:application',
    '-w',
    '2',
    '--statsd-host',
    `127.0.0.1:${statsd.port}`,
    '--statsd-prefix',
    'web',
    '--dogstatsd-tags',
    'env:test,team:a',
  ]);
  try {
    await statsd.until(() => statsd.lines().includes('web.gunicorn.workers:2|g|#env:test,team:a'));
    for (let i = 0; i < 5; i++) await get(server.port, '/sleep/0');
    await get(server.port, '/nowhere');
    assert.equal((await get(server.port, '/crash')).status, 502);
    await statsd.until(() => statsd.total('web.gunicorn.requests') === 7);
    assert.equal(statsd.total('web.gunicorn.request.status.200'), 5);
    assert.equal(statsd.total('web.gunicorn.request.status.404'), 1);
    assert.equal(statsd.total('web.gunicorn.request.status.502'), 1);
    const durations = statsd.lines().filter((l) => l.startsWith('web.gunicorn.request.duration:'));
    assert.equal(durations.length, 7);
    for (const line of durations)
      assert.match(line, /^web\.gunicorn\.request\.duration:\d+(\.\d+)?\|ms\|#env:test,team:a$/);
    // nodicorn's own timer: each request's wait for a worker (all 7 reached one).
    const waits = statsd.lines().filter((l) => l.startsWith('web.nodicorn.queue.wait:'));
    assert.equal(waits.length, 7);
    for (const line of waits)
      assert.match(line, /^web\.nodicorn\.queue\.wait:\d+(\.\d+)?\|ms\|#env:test,team:a$/);
    for (const line of statsd.lines().filter((l) => l.includes('|c')))
      assert.match(line, /^web\.gunicorn\.[a-z0-9.]+:\d+\|c\|@1\.0\|#env:test,team:a$/);
    // The crash: its request's error, the worker's exit warning, and the gauge dipping and recovering.
    await statsd.until(
      () => statsd.total('web.gunicorn.log.error') >= 1 && statsd.total('web.gunicorn.log.warning') >= 1,
    );
    await statsd.until(
      () => statsd.lines().filter((l) => l.startsWith('web.gunicorn.workers:2|g')).length >= 2,
    );
    assert.ok(statsd.lines().includes('web.gunicorn.workers:1|g|#env:test,team:a'));
    // Batched: lines share packets instead of one packet per line.
    assert.ok(statsd.packets.length < statsd.lines().length, `${statsd.packets.length} packets`);
  } finally {
    await server.stop();
    statsd.close();
  }
});

test('--statsd-host refuses a unix: address, with the reason', async () => {
  await assert.rejects(
    startNodicorn(['--statsd-host', 'unix:/run/statsd.sock', 'examples/hello.ts:app'], { timeoutMs: 10_000 }),
    /--statsd-host: StatsD over a Unix socket is not supported \(Node has no Unix datagram sockets\)/,
  );
});
