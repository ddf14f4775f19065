/** The command line: --help, --version, errors, and a TypeScript app loaded from a .ts file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type StartOptions, startNodicorn, withNodicorn } from '../helpers/server.js';

const run = (...args: string[]) =>
  spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });

test('--help lists every setting, generated from the registry', () => {
  const { stdout, status } = run('--help');
  assert.equal(status, 0);
  for (const flag of [
    '--bind',
    '--workers',
    '--threads',
    '--timeout',
    '--graceful-timeout',
    '--max-requests',
    '--python',
    '--limit-request-line',
    '--header-timeout',
  ]) {
    assert.match(stdout, new RegExp(`${flag}\\b`));
  }
  assert.match(stdout, /env NODICORN_WORKERS/);
});

test('--version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(`${repoRoot}package.json`, 'utf8')) as { version: string };
  assert.equal(run('--version').stdout, `nodicorn ${version}\n`);
});

test('usage errors exit 2 with a suggestion', () => {
  const r = run('--wokers', '2', 'app:application');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option --wokers; did you mean --workers\?/);
  assert.equal(run().status, 2);
});

test('an unknown NODICORN_ variable is a warning naming the closest one, told once; an unknown flag stays an error', async () => {
  const server = await startNodicorn(['examples/hello.ts:app'], { env: { NODICORN_CMD: 'x' } });
  try {
    assert.equal((await get(server.port, '/')).body, 'Hello, WSGI World!');
    const warning = 'ignoring unknown environment variable NODICORN_CMD; did you mean NODICORN_BIND?';
    assert.match(server.log(), /\[WARNING\] ignoring unknown environment variable NODICORN_CMD;/);
    assert.equal(server.log().split(warning).length, 2, 'told exactly once');
  } finally {
    await server.stop();
  }
  const env = { ...process.env, NODICORN_CMD: 'x' };
  const checked = spawnSync(process.execPath, [cliPath, '--check-config', 'hello:application'], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
  });
  assert.equal(checked.status, 0);
  assert.match(
    checked.stderr,
    /^nodicorn: warning: ignoring unknown environment variable NODICORN_CMD; did you mean NODICORN_BIND\?$/m,
  );
  const flag = spawnSync(process.execPath, [cliPath, '--wokers', '2', 'hello:application'], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
  });
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /nodicorn: error: unknown option --wokers; did you mean --workers\?/);
});

test('a .ts app is loaded through tsx and served in-process', async () => {
  await withNodicorn(['examples/hello.ts:app'], async (server) => {
    assert.equal((await get(server.port, '/')).body, 'Hello, WSGI World!');
  });
});

test('--access-logfile - writes one Gunicorn-format line per request to stdout', async () => {
  await withNodicorn(['--access-logfile', '-', 'examples/hello.ts:app'], async (server) => {
    await get(server.port, '/some/path?q=1', { 'User-Agent': 'tester/1', Referer: 'http://r.test/' });
    await server.waitForLog(
      /\n127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/some\/path\?q=1 HTTP\/1\.1" 200 18 "http:\/\/r\.test\/" "tester\/1"\n/,
    );
  });
});

test('proxy headers: applied from a trusted peer (loopback by default), removed from others', async () => {
  const request =
    'GET /p HTTP/1.1\r\nHost: internal\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Prefix: /mount\r\nConnection: close\r\n\r\n';
  const environOf = (text: string) =>
    (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { environ: Record<string, string> }).environ;
  const app = `${repoRoot}dist/examples/echo.js:app`;
  // By default the client and the scheme; the prefix only with --forwarded-trust.
  for (const [args, prefix] of [
    [[], ''],
    [['--forwarded-trust', 'for,proto,prefix'], '/mount'],
  ] as const) {
    await withNodicorn([...args, app], async (trusted) => {
      const env = environOf((await rawRequest(trusted.port, request)).text);
      assert.deepEqual(
        [env.REMOTE_ADDR, env['wsgi.url_scheme'], env.SCRIPT_NAME, env.SERVER_PORT],
        ['203.0.113.9', 'https', prefix, '443'],
      );
    });
  }
  await withNodicorn(['--forwarded-allow-ips', '10.9.9.9', app], async (untrusted) => {
    const env = environOf((await rawRequest(untrusted.port, request)).text);
    assert.deepEqual([env.REMOTE_ADDR, env['wsgi.url_scheme'], env.SCRIPT_NAME], ['127.0.0.1', 'http', '']);
    assert.equal(env.HTTP_X_FORWARDED_FOR, undefined);
  });
});

test('--print-config shows each value and its source; --check-config validates and exits; neither imports the app', () => {
  const printed = run('--print-config', '-w', '3', 'hello:application');
  assert.equal(printed.status, 0);
  assert.match(printed.stdout, /^workers\s+= "3" {2}\(command line\)$/m);
  assert.match(printed.stdout, /^timeout\s+= "30" {2}\(default\)$/m);
  const checked = run('--check-config', 'hello:application');
  assert.equal(checked.status, 0);
  assert.match(checked.stdout, /configuration OK/);
  assert.equal(run('--check-config', '--timeout', 'x', 'hello:application').status, 2);
  // As their doc lines say, and unlike Gunicorn's: the application is not imported.
  const missing = run('--check-config', 'no_such_module:application');
  assert.equal(missing.status, 0);
  assert.match(missing.stdout, /configuration OK; application no_such_module:application/);
  assert.equal(run('--print-config', 'no_such_module:application').status, 0);
});

/**
 * Starts nodicorn as systemd would: Python makes the listening socket (`make` is Python code that sets
 * `s` and prints its address), moves it to fd 3, sets LISTEN_FDS/LISTEN_PID for its own pid and execs
 * nodicorn (so the server's pid and process group are Python's): the start options that do it.
 */
function activated(make: string): StartOptions {
  const script = [
    'import os, socket, sys',
    make,
    'os.dup2(s.fileno(), 3); os.set_inheritable(3, True)',
    'os.environ["LISTEN_FDS"] = "1"; os.environ["LISTEN_PID"] = str(os.getpid())',
    'os.execv(sys.argv[1], sys.argv[1:])',
  ].join('\n');
  return { wrap: ['python3', '-c', script], bind: [] };
}

test('systemd socket activation: the listening socket on fd 3 (LISTEN_FDS, LISTEN_PID) replaces --bind', async () => {
  const options = activated(
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1], flush=True)',
  );
  await withNodicorn(
    ['examples/hello.ts:app'],
    async (server) => {
      const log = server.log();
      assert.match(log, /Using 1 socket\(s\) from systemd \(LISTEN_FDS\) instead of --bind/);
      const port = Number(log.split('\n')[0]); // what Python printed before it became nodicorn
      assert.match(log, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} `));
      assert.equal((await get(port, '/')).body, 'Hello, WSGI World!');
    },
    options,
  );
});

test('systemd socket activation of a Unix socket (ListenStream=PATH): served, and logged as fd://3, not "unix:null"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-activate-'));
  const path = join(dir, 'activated.sock');
  const options = activated(
    `s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)}); s.listen(64)`,
  );
  try {
    await withNodicorn(
      ['examples/hello.ts:app'],
      async (server) => {
        assert.match(server.log(), /Listening at: fd:\/\/3 \(\d+\)/);
        const body = await new Promise<string>((resolve, reject) => {
          const req = http.get({ socketPath: path, path: '/', agent: false, timeout: 10_000 }, (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve(text));
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
        });
        assert.equal(body, 'Hello, WSGI World!');
      },
      options,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an in-process app lives through SIGHUP, SIGTTIN and SIGTTOU (regression: SIGHUP ended the server)', async () => {
  await withNodicorn(['examples/hello.ts:app'], async (server) => {
    for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) {
      server.process.kill(signal);
      await server.waitForLog(
        `Handling signal: ${signal.slice(3).toLowerCase()}; an in-process application has no workers`,
      );
    }
    assert.equal((await get(server.port, '/')).body, 'Hello, WSGI World!');
    assert.equal(server.process.exitCode, null);
    assert.equal(await server.stop(), 0);
  });
});

test('--pid writes the process id while the server runs and removes it on exit', async () => {
  const pidfile = `/tmp/nodicorn-test-${process.pid}.pid`;
  const server = await startNodicorn(['--pid', pidfile, 'examples/hello.ts:app']);
  assert.equal(readFileSync(pidfile, 'utf8'), `${server.process.pid}\n`);
  assert.equal(await server.stop(), 0);
  assert.throws(() => readFileSync(pidfile));
});

test('-n/--name: the server and its workers show the name in ps', async () => {
  await withNodicorn(
    ['-n', 'shop-web', '--chdir', `${repoRoot}examples`, 'hello:my_wsgi_app'],
    async (server) => {
      const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      assert.match(cmdline(server.process.pid!), /^nodicorn: master \[shop-web\]/);
      const worker = Number(/Booted 1 worker \(pids (\d+)\)/.exec(server.log())![1]);
      assert.match(cmdline(worker), / -m nodicorn_worker --name=shop-web /);
    },
  );
});
