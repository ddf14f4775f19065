/** The access log line is Gunicorn's, byte for byte, for the same request and format (Debian's gunicorn). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { GUNICORN_FORMAT } from '../../src/observability/access-log.js';
import { DEBIAN_PYTHON, requirePythonModules } from '../helpers/debian-python.js';
import { get } from '../helpers/load.js';
import { examples } from '../helpers/paths.js';
import { Progress } from '../helpers/processes.js';
import { withNodicorn } from '../helpers/server.js';

const FORMAT = `${GUNICORN_FORMAT} %(m)s %(U)s %(q)s %(H)s %(B)s %({x-trace}i)s %({content-type}o)s`;
const HEADERS = { 'User-Agent': 'compare/1.0', Referer: 'http://ref.test/page', 'X-Trace': 'abc-123' };
const PATH = '/some/path?x=1&y=two';
/** The time is the only field that may differ between the two servers. */
const normalize = (line: string) => line.replace(/\[[^\]]+\]/, '[TIME]');

/**
 * Gunicorn's line for the request. Gunicorn runs in a process group of its own, and the whole group goes at
 * the end: killing only the arbiter left its worker holding the stdout pipe until it noticed (15 s).
 */
async function gunicornLine(): Promise<string> {
  const child = spawn(
    DEBIAN_PYTHON,
    [
      '-m',
      'gunicorn',
      '-b',
      '127.0.0.1:0',
      '--access-logfile',
      '-',
      '--access-logformat',
      FORMAT,
      'hello:my_wsgi_app',
    ],
    { cwd: examples, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  const progress = new Progress();
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    progress.notify();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    progress.notify();
  });
  child.once('exit', progress.notify);
  /** The first match of `pattern` in what `source` returns, as soon as it appears. */
  const waitFor = async (source: () => string, pattern: RegExp): Promise<RegExpExecArray> => {
    let m: RegExpExecArray | null = null;
    await progress.until(
      () => (m = pattern.exec(source())) !== null || child.exitCode !== null,
      () => `${pattern} in Gunicorn's output:\n${err}${out}`,
    );
    if (m === null) throw new Error(`Gunicorn exited:\n${err}${out}`);
    return m;
  };
  try {
    const [, port] = await waitFor(() => err, /Listening at: http:\/\/127\.0\.0\.1:(\d+)/);
    await get(Number(port), PATH, HEADERS);
    return (await waitFor(() => out, /^.*\n/))[0].trimEnd();
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  }
}

test('nodicorn and Gunicorn write the same access-log line for the same request', async () => {
  requirePythonModules('gunicorn');
  const expected = await gunicornLine();
  await withNodicorn(
    ['--chdir', examples, 'hello:my_wsgi_app', '--access-logfile', '-', '--access-logformat', FORMAT],
    async (server) => {
      await get(server.port, PATH, HEADERS);
      await server.waitForLog('compare/1.0');
      const ours = server
        .log()
        .split('\n')
        .find((l) => l.includes('compare/1.0'))!;
      assert.equal(normalize(ours), normalize(expected));
      assert.match(ours, /^127\.0\.0\.1 - - \[/);
    },
  );
});
