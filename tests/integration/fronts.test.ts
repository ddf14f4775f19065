/**
 * `--fronts N`: a primary and N front processes that accept on the same sockets, each with its share of
 * the Python workers, seen from outside as one server: one ready line, one log, /metrics for all of them,
 * the signals of one server. Every server runs in a process group of its own (`detached`), so nothing
 * outlives a test; where a test checks that nothing is left, it signals the primary alone first.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { get, runLoad } from '../helpers/load.js';
import { cliPath, fixtures, repoRoot } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { parsePrometheus } from '../helpers/prometheus.js';
import { type RunningNodicorn, type StartOptions, startNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;
const CLOSE = { Connection: 'close' };

/** The children of `pid` whose command line has `marker` in it, from /proc. */
function children(pid: number, marker: string): number[] {
  let list: string;
  try {
    list = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return list
    .trim()
    .split(/\s+/)
    .filter((child) => {
      try {
        return child !== '' && readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

/** The primary's children are its fronts (their titles are `nodicorn: front N`). */
const frontsOf = (server: RunningNodicorn) => children(server.process.pid!, 'nodicorn');
const workersOf = (front: number) => children(front, 'nodicorn_worker');
/** Whether `pid` runs (a zombie, exited and not yet reaped by whoever inherited it, does not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** `after` are all new processes (none of `before`), and `before` all exit. */
async function replacedAll(before: readonly number[], after: readonly number[]): Promise<void> {
  assert.ok(
    after.every((pid) => !before.includes(pid)),
    `${after} after, ${before} before`,
  );
  await until(() => before.every((pid) => !alive(pid)), `${before} to exit`);
}

/** The fronts' pids in their order (front 1, 2, …), from the primary's ready line. */
async function frontsInOrder(server: RunningNodicorn): Promise<number[]> {
  await server.waitForLog(/Serving with \d+ fronts \(pids [\d, ]+\)/);
  return /Serving with \d+ fronts \(pids ([\d, ]+)\)/.exec(server.log())![1]!.split(', ').map(Number);
}

function start(args: readonly string[], options: StartOptions = {}): Promise<RunningNodicorn> {
  return startNodicorn(['--chdir', PY, 'fronts:application', ...args], { signalGroup: true, ...options });
}

/** `WORKER FRONT` answers, on new connections, `concurrency` at a time, until `done` says enough. */
async function askUntil(
  port: number,
  done: (answers: readonly string[]) => boolean,
  concurrency = 8,
  most = 2000,
): Promise<string[]> {
  const answers: string[] = [];
  while (!done(answers)) {
    assert.ok(answers.length < most, `still not there after ${answers.length} requests`);
    const batch = await Promise.all(Array.from({ length: concurrency }, () => get(port, '/', CLOSE)));
    for (const { status, body } of batch) {
      assert.equal(status, 200, body);
      answers.push(body);
    }
  }
  return answers;
}

const frontOf = (answer: string) => Number(answer.split(' ')[1]);
const sawFronts = (n: number) => (answers: readonly string[]) => new Set(answers.map(frontOf)).size >= n;

/** The server's /metrics, read from the address its ready lines give. */
async function metrics(server: RunningNodicorn): Promise<Map<string, number>> {
  const m = /Listening at: http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(server.log());
  assert.ok(m !== null, server.log());
  const { status, body } = await get(Number(m[1]), '/metrics');
  assert.equal(status, 200, body);
  return parsePrometheus(body);
}

/** A keep-alive connection: it stays with the front that accepted it. */
function connection(port: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ask = (path: string) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () =>
            res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}`)),
          );
        })
        .on('error', reject);
    });
  return { ask, close: () => agent.destroy() };
}

describe('--fronts', () => {
  test('-w 4 --fronts 2: both fronts accept, each with 2 workers; one ready line, one access log, /metrics sums them; TERM to the primary leaves no process', async () => {
    const server = await start([
      '-w',
      '4',
      '--fronts',
      '2',
      '--metrics-bind',
      '127.0.0.1:0',
      '--access-logfile',
      '-',
      '--access-logformat',
      'ACCESS %(p)s "%(r)s" %(s)s %(b)s',
    ]);
    try {
      const fronts = frontsOf(server);
      assert.equal(fronts.length, 2);
      const workers = fronts.map(workersOf);
      assert.deepEqual(
        workers.map((w) => w.length),
        [2, 2],
      );
      assert.equal(server.log().match(/Listening at: http:\/\/127\.0\.0\.1:\d+ /g)?.length, 1, server.log());
      await server.waitForLog(/Serving with 2 fronts \(pids \d+, \d+\), workers 2 \+ 2/);
      const logged = /Serving with 2 fronts \(pids (\d+), (\d+)\)/.exec(server.log())!.slice(1).map(Number);
      assert.deepEqual(logged.sort(), [...fronts].sort());

      const answers = await askUntil(server.port, sawFronts(2));
      for (const answer of answers) {
        const [worker, front] = answer.split(' ').map(Number);
        assert.ok(workers[fronts.indexOf(front!)]?.includes(worker!), `${answer}: not a worker of its front`);
      }

      const seen = await metrics(server);
      assert.equal(seen.get('nodicorn_requests_total{status="200"}'), answers.length);
      assert.equal(seen.get('nodicorn_request_duration_seconds_count'), answers.length);
      assert.equal(
        seen.get('nodicorn_workers{state="idle"}')! + seen.get('nodicorn_workers{state="busy"}')!,
        4,
      );
      assert.equal(seen.get('nodicorn_fronts'), 2);

      await server.waitForLog(new RegExp(`(ACCESS .*\\n[\\s\\S]*){${answers.length}}`));
      const lines = server
        .log()
        .split('\n')
        .filter((line) => line.includes('ACCESS'));
      assert.equal(lines.length, answers.length);
      for (const line of lines) assert.match(line, /^ACCESS <\d+> "GET \/ HTTP\/1\.1" 200 \d+$/);
      const writers = new Set(lines.map((line) => Number(/<(\d+)>/.exec(line)![1])));
      assert.deepEqual([...writers].sort(), [...fronts].sort());

      // The primary alone: it stops the fronts, they stop their workers.
      server.process.kill('SIGTERM');
      await until(() => server.process.exitCode !== null, 'the primary to exit');
      assert.equal(server.process.exitCode, 0, server.log());
      for (const pid of [...fronts, ...workers.flat()]) assert.equal(alive(pid), false, `${pid} is left`);
      assert.equal(server.log().match(/Shutdown complete/g)?.length, 3, server.log());
    } finally {
      await server.stop();
    }
  });

  test('TERM to the process group drains what each front has in flight: every request is answered, exit 0', async () => {
    const server = await start([
      ...['-w', '2', '--fronts', '2', '--keep-alive', '30', '--graceful-timeout', '30'],
      ...['--metrics-bind', '127.0.0.1:0'],
    ]);
    try {
      // One kept-alive connection on each front: a connection stays with the front that accepted it.
      const byFront = new Map<number, ReturnType<typeof connection>>();
      while (byFront.size < 2) {
        const c = connection(server.port);
        const front = frontOf(await c.ask('/'));
        if (byFront.has(front)) c.close();
        else byFront.set(front, c);
      }
      const slow = [...byFront.values()].map((c) => c.ask('/sleep/3').catch((error: Error) => error.message));
      await until(
        async () => (await metrics(server)).get('nodicorn_requests_in_flight') === 2,
        'both slow requests to be in flight',
      );
      const code = await server.stop('SIGTERM', 40_000);
      const answers = await Promise.all(slow);
      assert.equal(code, 0, server.log());
      assert.deepEqual(new Set(answers.map(frontOf)), new Set(byFront.keys()));
      for (const c of byFront.values()) c.close();
      assert.equal(server.log().match(/Shutdown complete/g)?.length, 3, server.log());
    } finally {
      await server.stop();
    }
  });

  test('HUP to the process group under load: each front replaces all its workers once, and no request fails', async () => {
    const server = await start(['-w', '4', '--fronts', '2']);
    try {
      const fronts = await frontsInOrder(server);
      const before = fronts.flatMap(workersOf);
      assert.equal(before.length, 4);
      const stopLoad = new AbortController();
      let responses = 0;
      const load = runLoad(server.port, '/', {
        connections: 8,
        durationMs: 120_000,
        signal: stopLoad.signal,
        onResponse: () => responses++,
      });
      await until(() => responses >= 40, 'the load to run');
      // The group: the fronts get it too, and must leave it to the primary, which passes it on once.
      process.kill(-server.process.pid!, 'SIGHUP');
      await server.waitForLog(/(Reloaded: workers now [\s\S]*){2}/, 60_000);
      const at = responses;
      await until(() => responses >= at + 40, 'the load to go on');
      stopLoad.abort();
      const result = await load;
      assert.deepEqual(result.failures, [], server.log());
      assert.equal(server.log().match(/Handling signal: hup/g)?.length, 3, server.log());
      assert.deepEqual(frontsOf(server).sort(), [...fronts].sort());
      await until(() => before.every((pid) => !alive(pid)), 'the old workers to exit');
      const after = fronts.flatMap(workersOf);
      assert.equal(after.length, 4);
      await replacedAll(before, after);
    } finally {
      await server.stop();
    }
  });

  test('TTIN and TTOU change the number of workers in all, one front at a time, down to one per front', async () => {
    const server = await start(['-w', '3', '--fronts', '2']);
    try {
      const fronts = await frontsInOrder(server);
      const counts = () => fronts.map((front) => workersOf(front).length).join(' + ');
      assert.equal(counts(), '2 + 1');
      for (const [signal, expected] of [
        ['SIGTTIN', '2 + 2'],
        ['SIGTTIN', '3 + 2'],
        ['SIGTTOU', '2 + 2'],
        ['SIGTTOU', '2 + 1'],
        ['SIGTTOU', '1 + 1'],
      ] as const) {
        server.process.kill(signal);
        const total = expected.split(' + ').reduce((sum, n) => sum + Number(n), 0);
        await server.waitForLog(`workers: ${total} (${expected})`);
        await until(() => counts() === expected, `${expected} workers (now ${counts()})`);
      }
      server.process.kill('SIGTTOU');
      await server.waitForLog('each front is down to one worker');
      assert.equal(counts(), '1 + 1');
      const answers = await askUntil(server.port, sawFronts(2));
      assert.ok(answers.length > 0);
    } finally {
      await server.stop();
    }
  });

  test('a front that is killed is replaced; meanwhile the other one serves', async () => {
    const server = await start(['-w', '2', '--fronts', '2', '--metrics-bind', '127.0.0.1:0']);
    try {
      const [one, two] = await frontsInOrder(server);
      const gone = workersOf(one!);
      process.kill(one!, 'SIGKILL');
      await server.waitForLog(`Front 1 (pid ${one}) exited (signal SIGKILL); starting another`);
      // The sockets stay open in the primary and the other front: no connection is refused.
      assert.equal(frontOf((await get(server.port, '/', CLOSE)).body), two);
      await server.waitForLog(/Front 1 \(pid \d+\) is serving/, 30_000);
      const fresh = Number(/Front 1 \(pid (\d+)\) is serving/.exec(server.log())![1]);
      assert.deepEqual(frontsOf(server).sort(), [fresh, two!].sort());
      assert.equal(workersOf(fresh).length, 1);
      await until(() => gone.every((pid) => !alive(pid)), "the killed front's workers to exit");
      const answers = await askUntil(server.port, sawFronts(2));
      assert.deepEqual(new Set(answers.map(frontOf)), new Set([fresh, two]));
      const seen = await metrics(server);
      assert.equal(seen.get('nodicorn_front_restarts_total'), 1);
      assert.equal(seen.get('nodicorn_fronts'), 2);
    } finally {
      await server.stop();
    }
  });

  test('USR1 reopens the access log file: lines from both fronts go on, whole, in the new file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodicorn-fronts-'));
    const file = join(dir, 'access.log');
    const server = await start([
      ...['-w', '2', '--fronts', '2'],
      ...['--access-logfile', file, '--access-logformat', 'ACCESS %(p)s "%(r)s" %(s)s'],
    ]);
    const lines = (path: string) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
    const writers = (path: string) => new Set(lines(path).map((line) => Number(/<(\d+)>/.exec(line)![1])));
    try {
      const fronts = await frontsInOrder(server);
      const first = await askUntil(server.port, sawFronts(2));
      await until(() => lines(file).length === first.length, 'the first lines');
      renameSync(file, `${file}.1`);
      server.process.kill('SIGUSR1');
      await server.waitForLog('log files reopened');
      const second = await askUntil(server.port, sawFronts(2));
      await until(
        () => existsSync(file) && lines(file).length === second.length,
        'the lines in the new file',
      );
      for (const path of [file, `${file}.1`])
        for (const line of lines(path)) assert.match(line, /^ACCESS <\d+> "GET \/ HTTP\/1\.1" 200$/);
      assert.equal(lines(`${file}.1`).length, first.length);
      assert.deepEqual([...writers(file)].sort(), [...fronts].sort());
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a TypeScript app on a unix socket: every front runs it and accepts; SERVER_NAME is the socket path', async () => {
    const socketPath = join(tmpdir(), `nodicorn-fronts-${process.pid}.sock`);
    const server = await startNodicorn(
      [`${repoRoot}dist/tests/fixtures/apps/whoami.js:app`, '--fronts', '2'],
      {
        bind: [`unix:${socketPath}`],
        signalGroup: true,
      },
    );
    try {
      const fronts = await frontsInOrder(server);
      assert.match(server.log(), new RegExp(`Listening at: unix:${socketPath} `));
      const seen = new Set<number>();
      while (seen.size < 2) {
        assert.ok(seen.size <= 2);
        // HTTP/1.0 without a Host header: SERVER_NAME is then the socket's path.
        const answers = await Promise.all(
          Array.from(
            { length: 8 },
            () =>
              new Promise<string>((resolve, reject) => {
                const chunks: Buffer[] = [];
                const socket = createConnection(socketPath, () => socket.end('GET / HTTP/1.0\r\n\r\n'));
                socket.on('data', (c: Buffer) => chunks.push(c));
                socket.on('end', () =>
                  resolve(Buffer.concat(chunks).toString('latin1').split('\r\n\r\n')[1]!),
                );
                socket.on('error', reject);
              }),
          ),
        );
        for (const answer of answers) {
          const [pid, serverName] = answer.split(' ');
          assert.equal(serverName, socketPath);
          assert.ok(fronts.includes(Number(pid)), `${pid} is not a front`);
          seen.add(Number(pid));
        }
      }
      assert.equal(await server.stop(), 0);
      assert.equal(existsSync(socketPath), false, 'the socket file is left');
    } finally {
      await server.stop();
    }
  });

  test('HUP with a TypeScript app replaces every front in turn, under load: new code, no failed request', async () => {
    const server = await startNodicorn(
      [`${repoRoot}dist/tests/fixtures/apps/whoami.js:app`, '--fronts', '2'],
      {
        signalGroup: true,
      },
    );
    try {
      const before = await frontsInOrder(server);
      let stop = false;
      const failures: string[] = [];
      let answered = 0;
      // New connections all along, as a proxy without keep-alive makes them.
      const client = async () => {
        while (!stop)
          await get(server.port, '/', CLOSE).then(
            ({ status }) => {
              if (status === 200) answered++;
              else failures.push(`status ${status}`);
            },
            (error: NodeJS.ErrnoException) => failures.push(error.code ?? error.message),
          );
      };
      const clients = Array.from({ length: 4 }, client);
      await until(() => answered >= 20, 'the load to run');
      server.process.kill('SIGHUP');
      await server.waitForLog('Replaced every front', 60_000);
      const at = answered;
      await until(() => answered >= at + 20, 'the load to go on');
      stop = true;
      await Promise.all(clients);
      assert.deepEqual(failures, [], server.log());
      const after = /Replaced every front: pids now (\d+), (\d+)/.exec(server.log())!.slice(1).map(Number);
      await replacedAll(before, after);
      // The old fronts have drained and gone; the new ones are the primary's children now.
      await until(
        () => frontsOf(server).sort().join() === [...after].sort().join(),
        `the primary's children to be ${after}`,
      );
      const answers = await askUntil(server.port, (a) => new Set(a.map((x) => x.split(' ')[0])).size >= 2);
      for (const answer of answers) assert.ok(after.includes(Number(answer.split(' ')[0])), answer);
    } finally {
      await server.stop();
    }
  });

  test('a config file with fronts: 2: server hooks run once, in the primary; pre_request and post_request in the fronts; one pid file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodicorn-fronts-'));
    const events = join(dir, 'events');
    const pidfile = join(dir, 'nodicorn.pid');
    writeFileSync(
      join(dir, 'nodicorn.config.mjs'),
      `import { appendFileSync } from 'node:fs';
const record = (hook, more = {}) => appendFileSync(${JSON.stringify(events)}, JSON.stringify({ hook, pid: process.pid, ...more }) + '\\n');
export default {
  fronts: 2,
  workers: 2,
  on_starting: () => record('on_starting'),
  when_ready: (server) => record('when_ready', { server: server.pid, workers: server.workers.length }),
  on_reload: () => record('on_reload'),
  post_request: (environ, status) => record('post_request', { status }),
  on_exit: (server) => record('on_exit', { server: server.pid }),
};
`,
    );
    const recorded = () =>
      (existsSync(events) ? readFileSync(events, 'utf8').trim().split('\n') : []).map(
        (line) => JSON.parse(line) as { hook: string; pid: number; server?: number; workers?: number },
      );
    const server = await start(['--pid', pidfile], { cwd: dir });
    const primary = server.process.pid!;
    try {
      const fronts = await frontsInOrder(server);
      assert.equal(readFileSync(pidfile, 'utf8'), `${primary}\n`);
      const answers = await askUntil(server.port, sawFronts(2));
      server.process.kill('SIGHUP');
      await server.waitForLog(/(Reloaded: workers now [\s\S]*){2}/, 60_000);
      assert.equal(await server.stop(), 0);
      const all = recorded();
      const once = (hook: string) => {
        const found = all.filter((e) => e.hook === hook);
        assert.equal(found.length, 1, `${hook}: ${JSON.stringify(all)}`);
        assert.equal(found[0]!.pid, primary, hook);
        return found[0]!;
      };
      once('on_starting');
      assert.deepEqual(once('when_ready'), { hook: 'when_ready', pid: primary, server: primary, workers: 2 });
      once('on_reload');
      once('on_exit');
      const posts = all.filter((e) => e.hook === 'post_request');
      assert.equal(posts.length, answers.length);
      assert.deepEqual(new Set(posts.map((e) => e.pid)), new Set(fronts));
      assert.equal(existsSync(pidfile), false, 'the pid file is left');
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the primary killed: its fronts drain and exit, and their workers with them', async () => {
    const server = await start(['-w', '2', '--fronts', '2']);
    try {
      const fronts = await frontsInOrder(server);
      const workers = fronts.flatMap(workersOf);
      assert.equal(workers.length, 2);
      server.process.kill('SIGKILL');
      await until(
        () => [...fronts, ...workers].every((pid) => !alive(pid)),
        'the fronts and workers to exit',
      );
    } finally {
      await server.stop();
    }
  });

  test('an app that cannot be loaded: the fronts fail, and the server exits 3 as it does alone', () => {
    const result = spawnSync(
      process.execPath,
      [cliPath, '--chdir', PY, 'fronts:nope', '--fronts', '2', '-b', '127.0.0.1:0'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(result.status, 3, result.stderr);
    assert.match(result.stderr, /Failed to find attribute 'nope' in 'fronts'/);
    assert.match(result.stderr, /Front \d \(pid \d+\) exited \(exit code 3\) before it was ready; stopping/);
    assert.doesNotMatch(result.stderr, /Listening at/);
  });
});
