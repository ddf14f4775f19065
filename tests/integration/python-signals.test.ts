/**
 * Signals to the whole process group (systemd's default KillMode=control-group, `tini -g`,
 * `kill -- -PGID`, a terminal's Ctrl-C): the Python workers get them too, and must leave the drain to
 * Node. The server's whole process group is signalled (`signalGroup`), as `-pid`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { get, runLoad, STALE_CONNECTION } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;

async function pids(port: number, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await get(port, '/pid')).body);
  return seen;
}

describe('signals to the whole process group', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} to the process group under load: every request in flight or queued is served, exit 0`, async (t) => {
      const server = await startNodicorn(
        ['--chdir', PY, 'faults:application', '-w', '2', '--graceful-timeout', '30'],
        { signalGroup: true },
      );
      const workers = await pids(server.port, 10);
      const stopLoad = new AbortController();
      const slow = get(server.port, '/sleep/0.5');
      let responses = 0;
      let underLoad!: () => void;
      const loaded = new Promise<void>((resolve) => {
        underLoad = resolve;
      });
      // 16 keep-alive clients for 2 workers: at any time 2 requests run and up to 14 wait in Node's queue.
      const load = runLoad(server.port, '/sleep/0.02', {
        connections: 16,
        durationMs: 60_000,
        signal: stopLoad.signal,
        onResponse: () => {
          if (++responses === 40) underLoad();
        },
      });
      await loaded;
      const code = await server.stop(signal, 40_000);
      stopLoad.abort();
      const result = await load;
      assert.equal(code, 0, server.log());
      assert.deepEqual(await slow, { ...(await slow), status: 200, body: 'slept' });
      // No request that reached the server failed (before the fix: a 502 from a worker that stopped, 503s
      // from the queue left behind). What remains is the server no longer taking requests: connections
      // refused once the listener has closed or reset in its backlog, and a request sent just as its idle
      // keep-alive connection was closed (the same with TERM to the server alone; clients retry those).
      const notTaken = new Set(['ECONNREFUSED', 'ECONNRESET', STALE_CONNECTION]);
      const failed = result.failures.filter((f) => !notTaken.has(f));
      const count = (what: string) => result.failures.filter((f) => f === what).length;
      t.diagnostic(
        `${result.ok} × 200, ${failed.length} failed; not taken: ${count('ECONNREFUSED')} refused, ${count('ECONNRESET')} reset, ${count(STALE_CONNECTION)} stale keep-alive`,
      );
      assert.deepEqual(failed, [], server.log());
      assert.ok(result.ok > 16, `only ${result.ok} requests completed`);
      assert.doesNotMatch(server.log(), /exited \(|while serving|WORKER TIMEOUT/);
      assert.match(server.log(), /Shutdown complete/);
      // The workers stopped at the end of their socket, before the server exited.
      for (const pid of workers) assert.throws(() => process.kill(Number(pid), 0), { code: 'ESRCH' });
    });
  }

  test('a worker sent TERM, INT or HUP alone ignores it: it finishes its request and goes on serving', async () => {
    // A worker cannot tell a signal sent to it alone from one sent to its whole group, so it ignores
    // both; Node decides when workers stop (HUP or TTOU to the server, --max-requests).
    await withNodicorn(['--chdir', PY, 'faults:application', '-w', '1'], async (server) => {
      const pid = Number((await get(server.port, '/pid')).body);
      const slow = get(server.port, '/sleep/0.3');
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.kill(pid, signal);
      assert.deepEqual(await slow, { ...(await slow), status: 200, body: 'slept' });
      assert.equal(Number((await get(server.port, '/pid')).body), pid);
      assert.doesNotMatch(server.log(), /exited/);
    });
  });
});
