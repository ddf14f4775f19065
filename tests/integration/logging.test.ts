/**
 * Log files as Gunicorn writes them: the error log (with the workers' output), --log-level, the JSON
 * access log, and SIGUSR1 reopening both files after logrotate renamed them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { get } from '../helpers/load.js';
import { cliPath, fixtures, repoRoot } from '../helpers/paths.js';

/** Process groups of the servers this file started and has not stopped: they go at its end. */
const groups = new Set<number>();
after(() => {
  for (const pgid of groups) killGroup(pgid);
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone already
  }
}

const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

async function until(check: () => boolean, what: () => string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out; ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs the CLI with `args` in a process group of its own (its workers join it). Its error log goes to a
 * file, so there is no ready line on stderr to wait for: callers wait for what the file or socket shows.
 * `stop` sends SIGTERM, waits for the exit code, then kills what is left of the group.
 */
function spawnServer(args: string[]) {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.add(child.pid!);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      killGroup(child.pid!);
      groups.delete(child.pid!);
      return code;
    },
  };
}

/** Starts the CLI with its error log in a file, and waits for the port in that file. */
async function startLogging(args: string[], errorLog: string) {
  const server = spawnServer([...args, '--error-logfile', errorLog, '-b', '127.0.0.1:0']);
  const listening = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/;
  try {
    await until(
      () => listening.test(read(errorLog)),
      () => `error log:\n${read(errorLog)}\noutput:\n${server.output()}`,
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, port: Number(listening.exec(read(errorLog))![1]) };
}

test('SIGUSR1 reopens the error and access log files: after a rename, new lines go to new files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-logs-'));
  const errorLog = join(dir, 'error.log');
  const accessLog = join(dir, 'access.log');
  const server = await startLogging(
    ['--chdir', `${fixtures}python`, 'faults:application', '--access-logfile', accessLog],
    errorLog,
  );
  try {
    // The workers' stdout and stderr, and wsgi.errors, are in the error log (Gunicorn's --capture-output).
    assert.equal((await get(server.port, '/errors?before')).body, 'logged');
    await until(
      () =>
        ['written to stderr\n', 'printed to stdout\n', 'message to wsgi.errors\n'].every((t) =>
          read(errorLog).includes(t),
        ) && read(accessLog).includes('/errors?before'),
      () => read(errorLog),
    );
    // logrotate: rename, then signal.
    renameSync(errorLog, `${errorLog}.1`);
    renameSync(accessLog, `${accessLog}.1`);
    server.child.kill('SIGUSR1');
    await until(
      () => read(errorLog).includes('Handling signal: usr1; log files reopened'),
      () => read(`${errorLog}.1`),
    );
    assert.equal((await get(server.port, '/errors?after')).status, 200);
    await until(
      () => read(accessLog).includes('/errors?after') && read(errorLog).includes('printed to stdout'),
      () => read(errorLog),
    );
    assert.doesNotMatch(read(accessLog), /before/);
    assert.doesNotMatch(read(`${accessLog}.1`), /after/);
    assert.match(read(`${errorLog}.1`), /Starting nodicorn[\s\S]*Listening at[\s\S]*written to stderr/);
    assert.doesNotMatch(read(`${errorLog}.1`), /usr1/);
    assert.equal(await server.stop(), 0);
    assert.match(read(errorLog), /Shutdown complete\n$/);
    // Nothing went to the terminal: the error log is the file.
    assert.equal(server.output(), '');
  } finally {
    await server.stop();
  }
});

test('--log-level warning keeps info lines out of the error log; the app output still goes in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-logs-'));
  const errorLog = join(dir, 'error.log');
  const socketPath = join(dir, 'app.sock');
  // The ready line is info, so it is not written at this level: wait for the socket file instead.
  const server = spawnServer([
    ...['--chdir', `${fixtures}python`, 'faults:application', '--log-level', 'warning'],
    ...['--error-logfile', errorLog, '-b', `unix:${socketPath}`],
  ]);
  try {
    await until(
      () => existsSync(socketPath),
      () => read(errorLog),
    );
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ socketPath, path: '/errors', agent: false, timeout: 10_000 }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    assert.equal(body, 'logged');
    await until(
      () => read(errorLog).includes('written to stderr') && read(errorLog).includes('printed to stdout'),
      () => read(errorLog),
    );
    assert.doesNotMatch(read(errorLog), /\[INFO\]/);
  } finally {
    await server.stop();
  }
});

test('--access-logformat json: one JSON object per line, which no request can break', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-logs-'));
  const accessLog = join(dir, 'access.log');
  const server = await startLogging(
    [`${repoRoot}dist/examples/echo.js:app`, '--access-logfile', accessLog, '--access-logformat', 'json'],
    join(dir, 'error.log'),
  );
  try {
    const hostile = 'evil"\\ \u00e9 {"status": 500}';
    await get(server.port, '/p%20q?x=1&y=%22', {
      // Header bytes are the UTF-8 of the text (node:http writes a string's code units as bytes).
      'User-Agent': Buffer.from(hostile, 'utf8').toString('latin1'),
      Referer: 'http://r.test/',
      'X-Request-Id': 'abc-123',
    });
    await get(server.port, '/second');
    await until(
      () => read(accessLog).split('\n').length === 3,
      () => read(accessLog),
    );
    const [first, second] = read(accessLog)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(first!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(typeof first!.duration_ms === 'number' && first!.duration_ms >= 0);
    assert.ok(typeof first!.bytes === 'number' && first!.bytes > 0);
    assert.deepEqual(
      { ...first, time: 0, duration_ms: 0, bytes: 0 },
      {
        time: 0,
        remote_addr: '127.0.0.1',
        method: 'GET',
        path: '/p%20q',
        query: 'x=1&y=%22',
        protocol: 'HTTP/1.1',
        status: 200,
        bytes: 0,
        duration_ms: 0,
        referer: 'http://r.test/',
        user_agent: hostile,
        request_id: 'abc-123',
        pid: server.child.pid,
      },
    );
    assert.equal(second!.path, '/second');
    assert.equal(second!.request_id, null);
  } finally {
    await server.stop();
  }
});
