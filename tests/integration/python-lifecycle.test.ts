/**
 * Worker lifecycle with real processes, like Gunicorn's arbiter: HUP and TERM under load, TTIN/TTOU,
 * --max-requests, --threads, and memory that stays bounded for big responses and uploads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, test } from 'node:test';
import { get, runLoad } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { memoryKiB } from '../helpers/processes.js';
import { startNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pids(port: number, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await get(port, '/pid')).body);
  return seen;
}

describe('signals', () => {
  test('SIGHUP under load replaces every worker with zero failed requests', async () => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application', '-w', '2']);
    try {
      const before = await pids(server.port, 10);
      const load = runLoad(server.port, '/sleep/0.01', { connections: 8, durationMs: 3000 });
      await sleep(800);
      server.process.kill('SIGHUP');
      const result = await load;
      await server.waitForLog('Reloaded: workers now');
      assert.equal(result.failed, 0, result.failures.slice(0, 5).join(', '));
      assert.ok(result.ok > 50, `only ${result.ok} requests completed`);
      const afterPids = await pids(server.port, 10);
      for (const pid of afterPids) assert.ok(!before.has(pid), `old worker ${pid} still serving`);
    } finally {
      await server.stop();
    }
  });

  test('SIGTERM under load: requests in flight finish with 200, new ones are refused, exit 0', async () => {
    const server = await startNodicorn([
      '--chdir',
      PY,
      'faults:application',
      '-w',
      '2',
      '--graceful-timeout',
      '10',
    ]);
    const load = runLoad(server.port, '/sleep/0.01', { connections: 4, durationMs: 2500 });
    const slow = get(server.port, '/sleep/1.5');
    await sleep(500);
    const code = server.stop('SIGTERM');
    assert.deepEqual(await slow, { ...(await slow), status: 200, body: 'slept' });
    assert.equal(await code, 0);
    const result = await load;
    // Once the server has stopped, clients can only fail to connect; no request got an error status.
    assert.ok(
      result.failures.every((f) => !f.startsWith('status')),
      result.failures.slice(0, 5).join(', '),
    );
    assert.match(server.log(), /Handling signal: term[\s\S]*Shutdown complete/);
  });

  test('a worker that dies during a SIGHUP reload is not replaced twice (regression)', async () => {
    const server = await startNodicorn(['--chdir', PY, 'slow_boot:application', '-w', '1'], {
      env: { SLOW_BOOT: '1' },
    });
    try {
      const old = Number((await get(server.port, '/')).body);
      server.process.kill('SIGHUP');
      await server.waitForLog('Handling signal: hup');
      process.kill(old, 'SIGKILL'); // while the new generation is still importing the app
      await server.waitForLog(/Reloaded: workers now \d+/, 15_000);
      await sleep(1500); // a wrongly scheduled replacement would have booted by now
      const children = readFileSync(`/proc/${server.process.pid}/task/${server.process.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(
          (pid) => pid !== '' && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nodicorn_worker'),
        );
      assert.equal(children.length, 1, `workers: ${children.join(', ')}\n${server.log()}`);
      assert.equal((await get(server.port, '/')).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('SIGTTIN adds a worker and SIGTTOU removes one', async () => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application', '-w', '1']);
    try {
      server.process.kill('SIGTTIN');
      await server.waitForLog('Handling signal: ttin; workers: 2');
      await server.waitForLog(/Booting worker with pid: \d+/);
      server.process.kill('SIGTTOU');
      await server.waitForLog('Handling signal: ttou; workers: 1');
      assert.equal((await get(server.port, '/pid')).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('worker recycling and concurrency', () => {
  test('--max-requests replaces a worker after that many requests', async () => {
    const server = await startNodicorn([
      '--chdir',
      PY,
      'faults:application',
      '-w',
      '1',
      '--max-requests',
      '4',
      '--max-requests-jitter',
      '2',
    ]);
    try {
      const seen = await pids(server.port, 20);
      assert.ok(seen.size >= 3, `pids seen: ${[...seen].join(', ')}`);
      assert.match(server.log(), /reached max requests \(\d\); replacing it/);
    } finally {
      await server.stop();
    }
  });

  test('--threads N runs N requests of one worker at the same time (wsgi.multithread)', async () => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application', '-w', '1', '--threads', '3']);
    try {
      const results = await Promise.all([1, 2, 3].map(() => get(server.port, '/barrier')));
      assert.deepEqual(
        results.map((r) => r.body),
        ['together', 'together', 'together'],
      );
    } finally {
      await server.stop();
    }
  });
});

describe('dispatch', () => {
  test('a slow request does not hold up the requests behind it while another worker is free', async () => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application', '-w', '2']);
    try {
      let slowDone = false;
      const slow = get(server.port, '/sleep/3').then((r) => {
        slowDone = true;
        return r;
      });
      await sleep(300); // the slow request is running on one worker
      const fast = await Promise.all(
        Array.from({ length: 20 }, () =>
          get(server.port, '/sleep/0').then((r) => ({ status: r.status, beforeSlow: !slowDone })),
        ),
      );
      assert.deepEqual(
        fast.filter((f) => f.status !== 200 || !f.beforeSlow),
        [],
      );
      assert.equal((await slow).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('requests waiting behind one whose worker dies are served by another worker, not failed', async () => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application', '-w', '1']);
    try {
      const crash = get(server.port, '/crash-soon');
      const others = await Promise.all(Array.from({ length: 4 }, () => get(server.port, '/sleep/0')));
      assert.equal((await crash).status, 502);
      assert.deepEqual(
        others.map((r) => r.status),
        [200, 200, 200, 200],
      );
    } finally {
      await server.stop();
    }
  });
});

describe('memory stays bounded', () => {
  test('a 1 GiB streamed response to a slow client: Node holds a bounded amount, backpressure reaches the worker', async (t) => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application']);
    try {
      const size = 1024 ** 3;
      let received = 0;
      const done = new Promise<void>((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port: server.port, path: `/big?${size}`, agent: false },
          (res) => {
            res.pause(); // a client that reads nothing for a while
            setTimeout(() => {
              res.on('data', (chunk: Buffer) => {
                received += chunk.length;
              });
              res.on('end', resolve);
              res.resume();
            }, 2500);
          },
        );
        req.on('error', reject);
      });
      await sleep(2000);
      const stalledRss = memoryKiB(server.process.pid!, 'VmRSS');
      await done;
      assert.equal(received, size);
      const peak = memoryKiB(server.process.pid!, 'VmHWM');
      t.diagnostic(`nodicorn RSS: ${stalledRss} KiB while the client stalled, peak ${peak} KiB over 1 GiB`);
      assert.ok(stalledRss < 200 * 1024, `RSS while the client stalled: ${stalledRss} KiB`);
      assert.ok(peak < 250 * 1024, `peak RSS over 1 GiB streamed: ${peak} KiB`);
    } finally {
      await server.stop();
    }
  });

  test('a 100 MiB upload is spooled to disk, not held in memory', async (t) => {
    const server = await startNodicorn(['--chdir', PY, 'faults:application']);
    try {
      const size = 100 * 1024 * 1024;
      const block = Buffer.alloc(1024 * 1024, 0x62);
      const body = (async function* () {
        for (let sent = 0; sent < size; sent += block.length) yield block;
      })();
      const response = await fetch(`${server.url}/upload`, {
        method: 'POST',
        body,
        duplex: 'half',
      } as RequestInit);
      assert.equal(await response.text(), String(size));
      const peak = memoryKiB(server.process.pid!, 'VmHWM');
      t.diagnostic(`nodicorn peak RSS during a 100 MiB upload: ${peak} KiB`);
      assert.ok(peak < 160 * 1024, `peak RSS during a 100 MiB upload: ${peak} KiB`);
    } finally {
      await server.stop();
    }
  });
});
