/** The access log line is Gunicorn's, byte for byte, for the same request and format (Debian's gunicorn). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { GUNICORN_FORMAT } from '../../src/observability/access-log.js';
import { DEBIAN_PYTHON, requirePythonModules } from '../helpers/debian-python.js';
import { get } from '../helpers/load.js';
import { examples } from '../helpers/paths.js';
import { startNodicorn } from '../helpers/server.js';

const FORMAT = `${GUNICORN_FORMAT} %(m)s %(U)s %(q)s %(H)s %(B)s %({x-trace}i)s %({content-type}o)s`;
const HEADERS = { 'User-Agent': 'compare/1.0', Referer: 'http://ref.test/page', 'X-Trace': 'abc-123' };
const PATH = '/some/path?x=1&y=two';
/** The time is the only field that may differ between the two servers. */
const normalize = (line: string) => line.replace(/\[[^\]]+\]/, '[TIME]');

async function gunicornLine(): Promise<string> {
  const port = 20_000 + (process.pid % 5000);
  const child = spawn(
    DEBIAN_PYTHON,
    [
      '-m',
      'gunicorn',
      '-b',
      `127.0.0.1:${port}`,
      '--access-logfile',
      '-',
      '--access-logformat',
      FORMAT,
      'hello:my_wsgi_app',
    ],
    {
      cwd: examples,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await get(port, PATH, HEADERS);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return out.split('\n')[0]!;
  } finally {
    child.kill('SIGKILL');
  }
}

test('nodicorn and Gunicorn write the same access-log line for the same request', async () => {
  requirePythonModules('gunicorn');
  const expected = await gunicornLine();
  const server = await startNodicorn([
    '--chdir',
    examples,
    'hello:my_wsgi_app',
    '--access-logfile',
    '-',
    '--access-logformat',
    FORMAT,
  ]);
  try {
    await get(server.port, PATH, HEADERS);
    await server.waitForLog('compare/1.0');
    const ours = server
      .log()
      .split('\n')
      .find((l) => l.includes('compare/1.0'))!;
    assert.equal(normalize(ours), normalize(expected));
    assert.match(ours, /^127\.0\.0\.1 - - \[/);
  } finally {
    await server.stop();
  }
});
