/**
 * The Python backend with real worker processes: the seed app's exact bytes, PEP 3333 conformance under
 * wsgiref.validate, app loading, and faults (crash, timeout, exceptions, bad headers, disconnects).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get } from '../helpers/load.js';
import { cliPath, examples, fixtures, repoRoot } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;

describe('the seed app', () => {
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn(['--chdir', examples, 'hello:my_wsgi_app', '-w', '2']);
  });
  after(() => server.stop());

  test('answers with exactly the bytes the app produced', async () => {
    const { text } = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: example.test\r\n\r\n');
    const withoutDate = text.replace(/\r\nDate: [^\r]+\r\n/, '\r\nDate: *\r\n');
    assert.equal(
      withoutDate,
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nDate: *\r\n' +
        'Connection: keep-alive\r\nKeep-Alive: timeout=2\r\n\r\nHello, WSGI World!',
    );
    assert.match(text, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  });

  test('HTTP/1.0 without keep-alive gets the body and a closed connection', async () => {
    const { text, closedByServer } = await rawRequest(server.port, 'GET / HTTP/1.0\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith('\r\n\r\nHello, WSGI World!'));
    assert.ok(closedByServer);
  });
});

describe('PEP 3333 conformance under wsgiref.validate', () => {
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn(['--chdir', PY, 'validated_echo:application']);
  });
  after(() => server.stop());

  const cases: Array<[string, string]> = [
    ['GET', 'GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: h.test\r\n\r\n'],
    [
      'POST',
      'POST /form HTTP/1.1\r\nHost: h.test\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    ],
    [
      'chunked POST',
      'POST /c HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    ],
    ['HEAD', 'HEAD /head HTTP/1.1\r\nHost: h.test\r\n\r\n'],
    ['percent-encoded path', 'GET /caf%C3%A9/%2Fslash%00nul HTTP/1.1\r\nHost: h.test\r\n\r\n'],
  ];
  for (const [name, request] of cases) {
    test(`${name}: 200 and nothing reported by the validator`, async () => {
      const { text } = await rawRequest(server.port, request);
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, text);
      assert.doesNotMatch(server.log(), /AssertionError|Warning|Error handling request/);
    });
  }

  test('the environ is exact: percent-decoded bytes as latin-1, NUL included, body intact', async () => {
    const { body } = await get(server.port, '/caf%C3%A9/%2Fslash%00nul?q=%41');
    const { environ } = JSON.parse(body) as { environ: Record<string, unknown> };
    assert.equal(environ.PATH_INFO, '/caf\u00c3\u00a9//slash\u0000nul');
    assert.equal(environ.QUERY_STRING, 'q=%41');
    assert.equal(environ.RAW_URI, '/caf%C3%A9/%2Fslash%00nul?q=%41');
    assert.deepEqual(environ['wsgi.version'], [1, 0]);
    assert.equal(environ['wsgi.input_terminated'], true);
    assert.equal(environ['wsgi.multithread'], false);
  });
});

describe('loading applications like Gunicorn', () => {
  test('module:factory() and module:factory(arg)', async () => {
    for (const [ref, expected] of [
      ['factory:create_app()', 'made by factory'],
      ["factory:create_app('greeting')", 'made by greeting'],
    ] as const) {
      await withNodicorn(['--chdir', PY, ref], async (server) => {
        assert.equal((await get(server.port, '/')).body, expected);
      });
    }
  });

  test('an app that fails to import stops the server at start, with the traceback and a non-zero status', () => {
    const result = spawnSync(
      process.execPath,
      [cliPath, '--chdir', PY, 'import_error:application', '-b', '127.0.0.1:0'],
      {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /ModuleNotFoundError: No module named 'this_module_does_not_exist'/);
    assert.match(result.stderr, /Traceback/);
    assert.doesNotMatch(result.stderr, /Listening at/);
  });

  test('a reference to a missing module or attribute: one line, no traceback, status 3', () => {
    for (const [ref, message] of [
      ['faults:nope', "the application could not be loaded: Failed to find attribute 'nope' in 'faults'."],
      ['no_such_module_here', "the application could not be loaded: No module named 'no_such_module_here'."],
    ] as const) {
      const result = spawnSync(process.execPath, [cliPath, '--chdir', PY, ref, '-b', '127.0.0.1:0'], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(result.status, 3);
      assert.ok(result.stderr.trimEnd().endsWith(message), result.stderr);
      assert.doesNotMatch(result.stderr, /Traceback|During handling/);
    }
  });

  test('no usable interpreter: one error listing every candidate tried', () => {
    const result = spawnSync(
      process.execPath,
      [cliPath, '--python', '/nonexistent/python9', 'hello:application'],
      {
        cwd: examples,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.notEqual(result.status, 0);
    assert.match(
      result.stderr,
      /no usable Python interpreter found; tried:\n\s+\/nonexistent\/python9 \(--python \/ NODICORN_PYTHON\): not found/,
    );
  });
});

describe('faults stay local', () => {
  let server: RunningNodicorn;
  const closeLog = join(mkdtempSync(join(tmpdir(), 'nodicorn-close-')), 'close.log');
  before(async () => {
    server = await startNodicorn(['--chdir', PY, 'faults:application', '-w', '2', '--timeout', '2'], {
      env: { CLOSE_LOG: closeLog },
    });
  });
  after(() => server.stop());

  test('a worker crashing mid-request costs that request a 502 and is replaced', async () => {
    for (const path of ['/crash', '/kill']) {
      const before = server.log().match(/Booting worker with pid/g)?.length ?? 0;
      assert.equal((await get(server.port, path)).status, 502);
      await server.waitForLog(new RegExp(`(?:Booting worker with pid[\\s\\S]*){${before + 1}}`));
      assert.equal((await get(server.port, '/closed')).status, 200);
    }
    assert.match(server.log(), /Worker \(pid:\d+\) exited \(code 1\) while serving GET \/crash/);
    assert.match(server.log(), /exited \(SIGKILL\) while serving GET \/kill/);
  });

  test('a request past --timeout gets 504, its worker is killed (stack logged) and replaced', async () => {
    const response = await get(server.port, '/hang');
    assert.equal(response.status, 504);
    assert.match(server.log(), /WORKER TIMEOUT \(pid:\d+\) GET \/hang ran for \d+\.\ds/);
    await server.waitForLog(/File ".*faults\.py", line \d+ in application/);
    assert.equal((await get(server.port, '/sleep/0')).body, 'slept');
  });

  test('an exception before start_response: 500 and the traceback in the error log', async () => {
    const response = await get(server.port, '/raise-before');
    assert.equal(response.status, 500);
    assert.doesNotMatch(response.body, /boom/); // tracebacks are for the log, not the client
    await server.waitForLog(
      /Error handling request GET \/raise-before\nTraceback[\s\S]*RuntimeError: boom before headers/,
    );
  });

  test('an exception after the headers went out: the connection is aborted, never a clean end', async () => {
    const { text, closedByServer } = await rawRequest(
      server.port,
      'GET /raise-after HTTP/1.1\r\nHost: h\r\n\r\n',
      2000,
    );
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /partial/);
    assert.ok(!text.endsWith('0\r\n\r\n'), 'the chunked body must not be terminated');
    assert.ok(closedByServer);
    await server.waitForLog(/RuntimeError: boom after headers/);
  });

  test('CR/LF in a header from the app: 500, and nothing of it reaches the wire', async () => {
    const { text } = await rawRequest(server.port, 'GET /bad-header HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 500 /);
    assert.doesNotMatch(text, /Injected|X-Bad/);
    // start_response raised (PEP 3333: while the app runs), so the log has the app's traceback.
    await server.waitForLog(/InvalidResponse: invalid characters in the value of header 'X-Bad'/);
  });

  test('wsgi.errors, print() and stderr go to the error log', async () => {
    assert.equal((await get(server.port, '/errors')).body, 'logged');
    await server.waitForLog('message to wsgi.errors');
    await server.waitForLog('printed to stdout');
    await server.waitForLog('written to stderr');
  });

  test('close() is called on success and when the client disconnects mid-response', async () => {
    assert.equal((await get(server.port, '/closed')).body, 'ab');
    await readThenHangUp(server.port, '/stream-forever', 256 * 1024);
    await until(() => readLog(closeLog).includes('stream-forever'), 'close() of /stream-forever', 10_000);
    assert.ok(readLog(closeLog).includes('closed'));
    assert.ok(readLog(closeLog).includes('stream-forever'), 'close() after client disconnect');
    // the worker is free again
    assert.equal((await get(server.port, '/sleep/0')).status, 200);
  });

  test('a worker that exits right after a response: the response is delivered whole (gone at close, not exit)', async () => {
    // post_request runs once the response went to Node; exiting there leaves its last frames unread in
    // the socket when the process's exit is reported. Node reads them before it counts the worker gone.
    const dir = mkdtempSync(join(tmpdir(), 'nodicorn-exit-after-'));
    writeFileSync(
      join(dir, 'app.py'),
      'def application(environ, start_response):\n' +
        '    start_response("200 OK", [("Content-Type", "application/octet-stream")])\n' +
        '    return [b"z" * (4 << 20)]\n',
    );
    writeFileSync(
      join(dir, 'gunicorn.conf.py'),
      'import os\n\ndef post_request(worker, req, environ, resp):\n    os._exit(0)\n',
    );
    await withNodicorn(
      ['-c', 'gunicorn.conf.py', 'app:application', '-w', '1'],
      async (exiting) => {
        for (let i = 1; i <= 2; i++) {
          const response = await get(exiting.port, '/');
          assert.equal(response.status, 200);
          assert.equal(response.body.length, 4 << 20);
          await exiting.waitForLog(new RegExp(`(?:exited \\(code 0\\); starting a new one[\\s\\S]*){${i}}`));
        }
        assert.doesNotMatch(exiting.log(), /while serving/);
      },
      {
        cwd: dir,
      },
    );
  });

  test('the write() callable, exc_info replacing headers, and wsgi.file_wrapper', async () => {
    assert.equal((await get(server.port, '/write')).body, 'written and returned');
    const replaced = await get(server.port, '/exc-info');
    assert.equal(replaced.status, 500);
    assert.equal(replaced.body, 'replaced');
    const file = await get(server.port, '/file');
    assert.equal(file.body, readFileSync(`${PY}/faults.py`, 'latin1'));
  });

  test('wsgi.file_wrapper by sendfile: a declared Content-Length, the head once after write(), the file position', async () => {
    const source = readFileSync(`${PY}/faults.py`, 'latin1');
    const declared = await rawRequest(
      server.port,
      'GET /file-declared HTTP/1.1\r\nHost: t\r\n\r\nGET /sleep/0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
      10_000,
      '127.0.0.1',
      false,
      (text) => text.endsWith('slept'),
    );
    // Exactly the 10 bytes declared, then the next response on the same connection.
    const [first, second] = declared.text.split(/\r\n\r\n/).slice(1);
    assert.equal(first?.slice(0, 10), source.slice(0, 10));
    assert.ok(first?.slice(10).startsWith('HTTP/1.1 200 OK'), declared.text);
    assert.equal(second?.startsWith('slept'), true, declared.text);
    assert.equal((await get(server.port, '/file-after-write')).body, `written ${source}`);
    assert.equal((await get(server.port, '/file-read-from')).body, source.slice(source.indexOf('\n') + 1));
  });

  test('large streamed responses and uploads arrive intact', async () => {
    const big = await get(server.port, `/big?${5 * 1024 * 1024 + 7}`);
    assert.equal(big.body.length, 5 * 1024 * 1024 + 7);
    const payload = Buffer.alloc(3 * 1024 * 1024 + 11, 0x61);
    const response = await fetch(`${server.url}/upload`, { method: 'POST', body: payload });
    assert.equal(await response.text(), String(payload.length));
  });
});

/** Starts a GET, reads `bytes` of the response, then drops the connection (a client going away). */
function readThenHangUp(port: number, path: string, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`),
    );
    let got = 0;
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got >= bytes) socket.destroy();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
