/**
 * --user/--group (drop root once the sockets are bound and the pid file written; workers run as the user)
 * and --umask (unix: socket files and the files the server creates).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath, fixtures, repoRoot } from '../helpers/paths.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;
const TS_ECHO = `${repoRoot}dist/examples/echo.js:app`;
const isRoot = process.getuid?.() === 0;
const notRoot = isRoot ? false : 'needs root: the server must start as root to drop to another user';

/** GET over a unix socket; resolves with the body. */
function getUnix(socketPath: string, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The Uid:/Gid: lines of a process (real, effective, saved, filesystem). */
function procIds(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const ids = (key: string) =>
    (new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
  return { uid: ids('Uid'), gid: ids('Gid'), groups: ids('Groups') };
}

test('--user nobody --group nogroup: server and Python workers run as nobody; socket and pid file made first', {
  skip: notRoot,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-user-')); // root's, 0700: only root may create in it
  const socket = join(dir, 'app.sock');
  const pidfile = join(dir, 'app.pid');
  const server = await startNodicorn(
    ['--user', 'nobody', '--group', 'nogroup', '--pid', pidfile, '--chdir', PY, 'whoami:application'],
    { bind: [`unix:${socket}`] },
  );
  try {
    const seen = JSON.parse(await getUnix(socket)) as { uid: number; gid: number; groups: number[] };
    assert.deepEqual([seen.uid, seen.gid], [65534, 65534], 'the worker runs as nobody:nogroup');
    assert.ok(!seen.groups.includes(0), `no root group left: ${seen.groups.join(',')}`);
    const ids = procIds(server.process.pid!);
    assert.deepEqual(ids.uid, [65534, 65534, 65534, 65534], 'the server process gave up root for good');
    assert.deepEqual(ids.gid, [65534, 65534, 65534, 65534]);
    assert.ok(!ids.groups.includes(0), `supplementary groups ${ids.groups.join(',')}`);
    assert.equal(readFileSync(pidfile, 'utf8').trim(), String(server.process.pid));
    const st = statSync(socket);
    assert.deepEqual([st.uid, st.gid], [65534, 65534], 'the socket file belongs to the user, as in Gunicorn');
    assert.match(server.log(), /Running as uid 65534, gid 65534/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('--user 65534 (numeric) with a TypeScript app: the server process runs as that user', {
  skip: notRoot,
}, async () => {
  await withNodicorn(['-u', '65534', '-g', '65534', TS_ECHO], async (server) => {
    assert.deepEqual(procIds(server.process.pid!).uid, [65534, 65534, 65534, 65534]);
    const body = await (await fetch(`${server.url}/x`)).json();
    assert.equal((body as { environ: Record<string, string> }).environ.PATH_INFO, '/x');
  });
});

test('an unknown user or group is a setting error at startup', () => {
  for (const [flag, name, message] of [
    ['--user', 'no-such-user-x', /--user: no such user "no-such-user-x"/],
    ['--group', 'no-such-group-x', /--group: no such group "no-such-group-x"/],
    ['--user', 'bad name!', /expected a name or a numeric id/],
  ] as const) {
    const run = spawnSync(process.execPath, [cliPath, flag, name, TS_ECHO, '-b', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, message);
  }
  const check = spawnSync(process.execPath, [cliPath, '--check-config', '-u', 'no-such-user-x', TS_ECHO], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(check.status, 2, '--check-config finds it too');
  assert.match(check.stderr, /no such user/);
});

test('a unix socket is created 0660 by default (its peers are trusted for proxy headers); --socket-mode less --umask otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-umask-'));
  for (const [args, mode] of [
    [[], 0o660],
    [['--umask', '0o117'], 0o660],
    [['--socket-mode', '0777'], 0o777],
    [['--socket-mode', '0o777', '-m', '007'], 0o770],
    [['--socket-mode', '600'], 0o600],
  ] as const) {
    const socket = join(dir, `s${args.join('')}.sock`);
    await withNodicorn(
      [...args, TS_ECHO],
      async () => {
        assert.equal(statSync(socket).mode & 0o777, mode, `${args.join(' ')} → ${mode.toString(8)}`);
        assert.match(await getUnix(socket), /"PATH_INFO":"\/"/);
      },
      { bind: [`unix:${socket}`] },
    );
  }
});

test('--umask narrows the files the server and its workers create: the pid file, and the workers inherit it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-umask-'));
  const pidfile = join(dir, 'app.pid');
  await withNodicorn(
    ['--umask', '0o077', '--pid', pidfile, '--chdir', PY, 'whoami:application'],
    async (server) => {
      assert.equal(statSync(pidfile).mode & 0o077, 0, 'nothing for group or others');
      const seen = (await (await fetch(server.url)).json()) as { umask: number };
      assert.equal(seen.umask & 0o077, 0o077);
    },
  );
});
