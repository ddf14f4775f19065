/**
 * --preload through a fork server (src/bridge/fork-server.ts, python/nodicorn_worker/zygote.py), against the
 * real server: the app is imported once per generation, workers are forked from it and replaced by a fork,
 * HUP reloads the code with no failed request, and nothing is left behind. Forked workers are not Node's
 * children: every test finds them through /proc and checks that they are gone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { DEBIAN_PYTHON, requirePythonModules } from '../helpers/debian-python.js';
import { get, loadUnderWay } from '../helpers/load.js';
import { cliPath, fixtures, repoRoot } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { type RunningNodicorn, startNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every process a test saw: killed (SIGKILL) at the end if one is still there, so none outlives the run. */
const seen = new Set<number>();
after(() => {
  for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

function alive(pid: number): boolean {
  try {
    // A zombie has no cmdline left: it has exited, its parent has yet to reap it.
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function forkServers(server: RunningNodicorn): number[] {
  const pids = [...server.log().matchAll(/Fork server \(pid: (\d+)\)/g)].map((m) => Number(m[1]));
  for (const pid of pids) seen.add(pid);
  return pids;
}

function bootedPids(server: RunningNodicorn): number[] {
  const m = /Booted \d+ workers? \(pids ([\d, ]+)\)/.exec(server.log());
  const pids = m === null ? [] : m[1]!.split(', ').map(Number);
  for (const pid of pids) seen.add(pid);
  return pids;
}

/** Stops the server and checks that every process it started has exited. */
async function stopAndCheck(server: RunningNodicorn, pids: number[]): Promise<void> {
  assert.equal(await server.stop(), 0);
  await until(() => pids.every((pid) => !alive(pid)), `processes ${pids.join(', ')} to exit`, 5000);
}

test('--preload -w 3: the app is imported once, by the fork server, and the workers are forked from it', async () => {
  const server = await startNodicorn(['--chdir', PY, 'preloaded:application', '--preload', '-w', '3']);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  try {
    assert.equal(workers.length, 3);
    const imports = [...server.log().matchAll(/preloaded\.py imported by pid (\d+)/g)];
    assert.deepEqual(
      imports.map((m) => Number(m[1])),
      [zygote],
    );
    assert.equal(parentOf(zygote!), server.process.pid);
    for (const pid of workers) assert.equal(parentOf(pid), zygote);
    const answer = JSON.parse((await get(server.port, '/')).body) as { pid: number; ppid: number };
    assert.ok(workers.includes(answer.pid));
    assert.equal(answer.ppid, zygote);
  } finally {
    await stopAndCheck(server, [zygote!, ...workers]);
  }
});

test('--preload: a killed worker is replaced by a new fork, without importing the app again', async () => {
  const server = await startNodicorn(['--chdir', PY, 'preloaded:application', '--preload', '-w', '2']);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  try {
    process.kill(workers[0]!, 'SIGKILL');
    await server.waitForLog(`Worker (pid:${workers[0]}) exited (SIGKILL); starting a new one`);
    await server.waitForLog(/Booting worker with pid: (\d+)/);
    const replacement = Number(/Booting worker with pid: (\d+)/.exec(server.log())![1]);
    seen.add(replacement);
    assert.equal(parentOf(replacement), zygote);
    assert.equal(server.log().match(/preloaded\.py imported by pid/g)!.length, 1);
    for (let i = 0; i < 4; i++) assert.equal((await get(server.port, '/')).status, 200);
    await stopAndCheck(server, [zygote!, workers[1]!, replacement]);
  } finally {
    await server.stop();
  }
});

function versionFile(version: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-versioned-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'VERSION');
  writeFileSync(file, version);
  return file;
}

test('SIGHUP under load with --preload: no failed request, a new fork server with the new code, the old one gone', async () => {
  const file = versionFile('v1');
  const server = await startNodicorn(['--chdir', PY, 'versioned:application', '--preload', '-w', '2'], {
    env: { VERSION_FILE: file },
  });
  const [oldZygote] = forkServers(server);
  const oldWorkers = bootedPids(server);
  try {
    assert.equal((await get(server.port, '/')).body, 'v1');
    const { load, loaded } = loadUnderWay(server.port, '/', 40, { connections: 8, durationMs: 3000 });
    await loaded;
    writeFileSync(file, 'v2');
    server.process.kill('SIGHUP');
    await server.waitForLog(/Reloaded: workers now/);
    const result = await load;
    assert.equal(result.failed, 0, result.failures.slice(0, 5).join(', '));
    assert.ok(result.ok > 0);
    assert.equal((await get(server.port, '/')).body, 'v2');
    const servers = forkServers(server);
    assert.equal(servers.length, 2);
    // The old generation drains, then its fork server exits with it.
    await until(() => [oldZygote!, ...oldWorkers].every((pid) => !alive(pid)), 'the old generation to exit');
    const newWorkers = /Reloaded: workers now ([\d, ]+)/.exec(server.log())![1]!.split(', ').map(Number);
    for (const pid of newWorkers) {
      seen.add(pid);
      assert.equal(parentOf(pid), servers[1]);
    }
    await stopAndCheck(server, [servers[1]!, ...newWorkers]);
  } finally {
    await server.stop();
  }
});

test('SIGHUP with --preload and code that cannot be imported: the reload is abandoned, replacements fork the old code', async () => {
  const file = versionFile('v1');
  const server = await startNodicorn(['--chdir', PY, 'versioned:application', '--preload', '-w', '2'], {
    env: { VERSION_FILE: file },
  });
  const [oldZygote] = forkServers(server);
  const workers = bootedPids(server);
  try {
    rmSync(file); // versioned.py now fails at import
    server.process.kill('SIGHUP');
    await server.waitForLog('Reload failed; the current workers keep serving.');
    assert.match(server.log(), /FileNotFoundError/);
    assert.equal((await get(server.port, '/')).body, 'v1');
    // Without --preload this replacement would import the broken code; here it is a fork of the old one.
    process.kill(workers[0]!, 'SIGKILL');
    await server.waitForLog(/Booting worker with pid: (\d+)/);
    const replacement = Number(/Booting worker with pid: (\d+)/.exec(server.log())![1]);
    seen.add(replacement);
    assert.equal(parentOf(replacement), oldZygote);
    for (let i = 0; i < 4; i++) assert.equal((await get(server.port, '/')).body, 'v1');
    const failed = forkServers(server)[1]!;
    await stopAndCheck(server, [oldZygote!, failed, workers[1]!, replacement]);
  } finally {
    await server.stop();
  }
});

test('3 SIGHUPs 0.2 s apart under --preload while the import takes 1 s: 2 workers, forked from the newest code', async () => {
  const file = versionFile('v0');
  await withNodicorn(
    ['--chdir', PY, 'versioned:application', '--preload', '-w', '2'],
    async (server) => {
      // Workers asked of a fork server still importing are killed before they are forked: the kill must
      // reach them once they are.
      for (const version of ['v1', 'v2', 'v3']) {
        writeFileSync(file, version);
        server.process.kill('SIGHUP');
        await pause(200);
      }
      await server.waitForLog(/Reloaded: workers now \d+/, 30_000);
      const servers = forkServers(server);
      const newest = servers.at(-1)!;
      const children = () =>
        readFileSync(`/proc/${newest}/task/${newest}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      await until(
        () => servers.slice(0, -1).every((pid) => !alive(pid)) && children().length === 2,
        'only the newest fork server, with 2 workers',
      );
      for (const pid of children()) seen.add(Number(pid));
      for (let i = 0; i < 6; i++) assert.equal((await get(server.port, '/')).body, 'v3');
      await stopAndCheck(server, [newest, ...children().map(Number)]);
    },
    {
      env: { VERSION_FILE: file, SLOW_BOOT: '1' },
      timeoutMs: 30_000,
    },
  );
});

test('--preload with gunicorn.conf.py hooks: post_fork and post_worker_init run in each forked worker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-preload-conf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'gunicorn.conf.py');
  writeFileSync(
    conf,
    [
      'def post_fork(server, worker):',
      '    worker.log.info("post_fork in %d, master %d" % (worker.pid, server.pid))',
      'def post_worker_init(worker):',
      '    worker.log.info("post_worker_init in %d" % worker.pid)',
      '',
    ].join('\n'),
  );
  const server = await startNodicorn([
    '-c',
    conf,
    '--chdir',
    PY,
    'preloaded:application',
    '--preload',
    '-w',
    '2',
  ]);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  try {
    for (const pid of workers) {
      assert.match(server.log(), new RegExp(`post_fork in ${pid}, master ${server.process.pid}\n`));
      assert.match(server.log(), new RegExp(`post_worker_init in ${pid}\n`));
    }
  } finally {
    await stopAndCheck(server, [zygote!, ...workers]);
  }
});

test('--preload: SIGTERM leaves no worker or fork server behind, and removes the private socket', async () => {
  const server = await startNodicorn(['--chdir', PY, 'preloaded:application', '--preload', '-w', '2']);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  const config = readFileSync(`/proc/${zygote}/cmdline`, 'utf8').split('\0').at(-2)!;
  const socket = (JSON.parse(config) as { listen: string }).listen;
  assert.ok(existsSync(socket));
  await stopAndCheck(server, [zygote!, ...workers]);
  assert.equal(existsSync(dirname(socket)), false);
});

test('--preload: when the master is killed (SIGKILL), the fork server and its workers exit on their own', async () => {
  const server = await startNodicorn(['--chdir', PY, 'preloaded:application', '--preload', '-w', '2']);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  const config = readFileSync(`/proc/${zygote}/cmdline`, 'utf8').split('\0').at(-2)!;
  const socketDir = dirname((JSON.parse(config) as { listen: string }).listen);
  after(() => rmSync(socketDir, { recursive: true, force: true })); // nobody was left to remove it
  server.process.kill('SIGKILL');
  // The workers read end-of-stream from Node, the fork server from its control socket.
  await until(() => [zygote!, ...workers].every((pid) => !alive(pid)), 'the fork server and workers to exit');
});

test('--preload: a process without the token from the SPAWN cannot pose as Node and get a worker', async () => {
  const server = await startNodicorn(['--chdir', PY, 'preloaded:application', '--preload', '-w', '1']);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  try {
    const config = readFileSync(`/proc/${zygote}/cmdline`, 'utf8').split('\0').at(-2)!;
    const path = (JSON.parse(config) as { listen: string }).listen;
    // HELLO for worker 2 (the next one the supervisor would start) with a made-up token of the right size.
    const hello = Buffer.alloc(9 + 32, 'a');
    hello.writeUInt32BE(5 + 32, 0);
    hello[4] = 0x18;
    hello.writeUInt32BE(2, 5);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(path, () => socket.write(hello));
      socket.on('error', () => resolve(true));
      socket.on('close', () => resolve(true));
    });
    assert.ok(closed);
    assert.equal((await get(server.port, '/')).status, 200);
    assert.doesNotMatch(server.log(), /Booting worker/);
  } finally {
    await stopAndCheck(server, [zygote!, ...workers]);
  }
});

test('--preload: an app that fails to import stops the server at start, with the traceback, nothing left behind', () => {
  const result = spawnSync(
    process.execPath,
    [cliPath, '--chdir', PY, 'import_error:application', '--preload', '-w', '2', '-b', '127.0.0.1:0'],
    { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(result.status, 3);
  assert.match(result.stderr, /ModuleNotFoundError: No module named 'this_module_does_not_exist'/);
  assert.doesNotMatch(result.stderr, /Listening at/);
  const zygote = Number(/Fork server \(pid: (\d+)\)/.exec(result.stderr)![1]);
  assert.equal(alive(zygote), false);
});

test('Django under --preload -w 4: views and a CSRF-protected form work in forked workers', async () => {
  requirePythonModules('django');
  const server = await startNodicorn([
    '--python',
    DEBIAN_PYTHON,
    '--chdir',
    PY,
    'django_app:application',
    '--preload',
    '-w',
    '4',
  ]);
  const [zygote] = forkServers(server);
  const workers = bootedPids(server);
  try {
    assert.equal(workers.length, 4);
    for (const pid of workers) assert.equal(parentOf(pid), zygote);
    const view = await fetch(`${server.url}/`);
    assert.equal(await view.text(), 'Hello from Django');
    const page = await fetch(`${server.url}/form/`);
    const cookie = page.headers
      .getSetCookie()
      .find((c) => c.startsWith('csrftoken='))!
      .split(';')[0]!;
    const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await page.text())![1]!;
    const accepted = await fetch(`${server.url}/form/`, {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrfmiddlewaretoken: token, name: 'Ada' }),
    });
    assert.equal(await accepted.text(), 'Thanks, Ada');
  } finally {
    await stopAndCheck(server, [zygote!, ...workers]);
  }
});
