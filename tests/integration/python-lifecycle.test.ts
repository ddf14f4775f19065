/**
 * Worker lifecycle with real processes, like Gunicorn's arbiter: HUP and TERM under load, TTIN/TTOU,
 * --max-requests, --threads, and memory that stays bounded for big responses and uploads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { describe, test } from 'node:test';
import { FLOW_MS } from '../../src/bridge/dispatch-queue.js';
import { get, loadUnderWay } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { memoryKiB, namelessFiles, pythonWorkers, until } from '../helpers/processes.js';
import { metricsPort, parsePrometheus } from '../helpers/prometheus.js';
import { withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;

async function pids(port: number, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await get(port, '/pid')).body);
  return seen;
}

describe('signals', () => {
  test('SIGHUP under load replaces every worker with zero failed requests', async () => {
    await withNodicorn(['--chdir', PY, 'faults:application', '-w', '2'], async (server) => {
      const before = await pids(server.port, 10);
      const { load, loaded } = loadUnderWay(server.port, '/sleep/0.01', 40, {
        connections: 8,
        durationMs: 3000,
      });
      await loaded; // the load is under way
      server.process.kill('SIGHUP');
      const result = await load;
      await server.waitForLog('Reloaded: workers now');
      assert.equal(result.failed, 0, result.failures.slice(0, 5).join(', '));
      assert.ok(result.ok > 50, `only ${result.ok} requests completed`);
      const afterPids = await pids(server.port, 10);
      for (const pid of afterPids) assert.ok(!before.has(pid), `old worker ${pid} still serving`);
    });
  });

  test('SIGTERM under load: requests in flight finish with 200, new ones are refused, exit 0', async () => {
    const args = ['--chdir', PY, 'faults:application', '-w', '2', '--graceful-timeout', '10'];
    await withNodicorn(args, async (server) => {
      const { load, loaded } = loadUnderWay(server.port, '/sleep/0.01', 20, {
        connections: 4,
        durationMs: 2500,
      });
      const slow = get(server.port, '/announced-sleep/1.5');
      await server.waitForLog('sleeping 1.5 in'); // the slow request is in the app
      await loaded;
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
  });

  test('a worker that dies during a SIGHUP reload is not replaced twice (regression)', async () => {
    const args = ['--chdir', PY, 'slow_boot:application', '-w', '1'];
    await withNodicorn(
      args,
      async (server) => {
        const old = Number((await get(server.port, '/')).body);
        server.process.kill('SIGHUP');
        await server.waitForLog('Handling signal: hup');
        process.kill(old, 'SIGKILL'); // while the new generation is still importing the app
        await server.waitForLog(`Worker (pid:${old}) exited (SIGKILL)`);
        await server.waitForLog(/Reloaded: workers now \d+/, 15_000);
        // The supervisor starts a worker in the same step as the event that calls for it (policy.ts
        // spawns at once; only boot failures delay a start). Both events are in the log, so a wrongly
        // scheduled replacement is a child process by now, booting or not.
        const workers = pythonWorkers(server);
        assert.equal(workers.length, 1, `workers: ${workers.join(', ')}\n${server.log()}`);
        assert.equal((await get(server.port, '/')).status, 200);
        // And none was started and dropped meanwhile: workers are numbered as they start (Gunicorn's
        // worker.age, the last argument of a worker), so the next one is the third (start, reload).
        server.process.kill('SIGTTIN');
        const booted = /Handling signal: ttin[\s\S]*Booting worker with pid: (\d+)/;
        await server.waitForLog(booted, 15_000);
        const pid = booted.exec(server.log())![1]!;
        const age = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).at(-1);
        assert.equal(age, '3', server.log());
      },
      { env: { SLOW_BOOT: '1' } },
    );
  });

  test('SIGTTIN adds a worker and SIGTTOU removes one', async () => {
    await withNodicorn(['--chdir', PY, 'faults:application', '-w', '1'], async (server) => {
      server.process.kill('SIGTTIN');
      await server.waitForLog('Handling signal: ttin; workers: 2');
      await server.waitForLog(/Booting worker with pid: \d+/);
      server.process.kill('SIGTTOU');
      await server.waitForLog('Handling signal: ttou; workers: 1');
      assert.equal((await get(server.port, '/pid')).status, 200);
    });
  });
});

describe('worker recycling and concurrency', () => {
  test('--max-requests replaces a worker after that many requests', async () => {
    await withNodicorn(
      ['--chdir', PY, 'faults:application', '-w', '1', '--max-requests', '4', '--max-requests-jitter', '2'],
      async (server) => {
        const seen = await pids(server.port, 20);
        assert.ok(seen.size >= 3, `pids seen: ${[...seen].join(', ')}`);
        assert.match(server.log(), /reached max requests \(\d\); replacing it/);
      },
    );
  });

  test('--threads N runs N requests of one worker at the same time (wsgi.multithread)', async () => {
    await withNodicorn(['--chdir', PY, 'faults:application', '-w', '1', '--threads', '3'], async (server) => {
      const results = await Promise.all([1, 2, 3].map(() => get(server.port, '/barrier')));
      assert.deepEqual(
        results.map((r) => r.body),
        ['together', 'together', 'together'],
      );
    });
  });
});

describe('dispatch', () => {
  test('a slow request does not hold up the requests behind it while another worker is free', async () => {
    const args = ['--chdir', PY, 'faults:application', '-w', '2', '--metrics-bind', '127.0.0.1:0'];
    await withNodicorn(args, async (server) => {
      // Both workers ready first: on a loaded machine the second may boot slower than the slow request runs.
      const metrics = await metricsPort(server);
      await until(
        async () =>
          parsePrometheus((await get(metrics, '/metrics')).body).get('nodicorn_workers{state="idle"}') === 2,
        'both workers ready',
      );
      let slowDone = false;
      const slow = get(server.port, '/announced-sleep/3').then((r) => {
        slowDone = true;
        return r;
      });
      await server.waitForLog('sleeping 3 in'); // the slow request is running on one worker
      // The pool's rule: a worker whose request has run past FLOW_MS is handed nothing more (in its first
      // FLOW_MS a request may still be batched behind it; see dispatch-queue.ts). Past it, then:
      await new Promise((r) => setTimeout(r, 5 * FLOW_MS));
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
    });
  });

  test('requests waiting behind one whose worker dies are served by another worker, not failed', async () => {
    await withNodicorn(['--chdir', PY, 'faults:application', '-w', '1'], async (server) => {
      const crash = get(server.port, '/crash-soon');
      const others = await Promise.all(Array.from({ length: 4 }, () => get(server.port, '/sleep/0')));
      assert.equal((await crash).status, 502);
      assert.deepEqual(
        others.map((r) => r.status),
        [200, 200, 200, 200],
      );
    });
  });
});

describe('memory stays bounded', () => {
  test('a 1 GiB streamed response to a slow client: Node holds a bounded amount, backpressure reaches the worker', async (t) => {
    await withNodicorn(['--chdir', PY, 'faults:application'], async (server) => {
      const size = 1024 ** 3;
      let received = 0;
      let stalled!: http.IncomingMessage;
      const responded = new Promise<void>((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port: server.port, path: `/big?${size}`, agent: false },
          (res) => {
            res.pause(); // a client that reads nothing until the server holds 256 MiB for it
            stalled = res;
            resolve();
          },
        );
        req.on('error', reject);
      });
      await responded;
      const pid = server.process.pid!;
      await until(
        () => namelessFiles(pid).reduce((a, b) => a + b, 0) >= 256 * 1024 * 1024,
        'the server to spool 256 MiB',
        60_000,
      );
      const stalledRss = memoryKiB(pid, 'VmRSS');
      const done = new Promise((resolve) => stalled.on('end', resolve));
      stalled.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      stalled.resume();
      await done;
      assert.equal(received, size);
      const peak = memoryKiB(server.process.pid!, 'VmHWM');
      t.diagnostic(`nodicorn RSS: ${stalledRss} KiB while the client stalled, peak ${peak} KiB over 1 GiB`);
      assert.ok(stalledRss < 200 * 1024, `RSS while the client stalled: ${stalledRss} KiB`);
      assert.ok(peak < 250 * 1024, `peak RSS over 1 GiB streamed: ${peak} KiB`);
    });
  });

  test('a 100 MiB upload is spooled to disk, not held in memory', async (t) => {
    await withNodicorn(['--chdir', PY, 'faults:application'], async (server) => {
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
    });
  });
});
