/**
 * Real gunicorn.conf.py files in temporary directories: settings read through Python (lists, expressions),
 * unknown and unsupported names refused, and the worker-side hooks running in every worker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { cliPath } from '../helpers/paths.js';
import { until } from '../helpers/processes.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

/** An app that answers with the hook header it sees, its pid, or hangs. */
const APP = `import os, time
def application(environ, start_response):
    if environ["PATH_INFO"] == "/hang":
        time.sleep(60)
    body = ("%s %d" % (environ.get("HTTP_X_HOOKED", "-"), os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
`;

function project(conf: string, name = 'gunicorn.conf.py'): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-gconf-'));
  writeFileSync(join(dir, 'app.py'), APP);
  writeFileSync(join(dir, name), conf.replaceAll('DIR', dir));
  return dir;
}

const run = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });

function getUnix(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path, agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

test('./gunicorn.conf.py: binds from a list, workers from an expression, hooks in every worker', async () => {
  const dir = project(`import multiprocessing
from os import getpid  # imported names are not settings
bind = ["127.0.0.1:0", "unix:DIR/app.sock"]
workers = min(multiprocessing.cpu_count() * 2 + 1, 3)
worker_class = "sync"
worker_tmp_dir = "/dev/shm"
_seen = "DIR/seen"

def post_worker_init(worker):
    with open("DIR/init-%d" % worker.pid, "w") as f:
        f.write("%d %d" % (worker.age, getpid()))
    worker.log.info("post_worker_init ran in %s", worker.pid)

def pre_request(worker, req):
    req.headers.append(("X-HOOKED", "%s %s" % (req.method, req.path)))

def post_request(worker, req, environ, resp):
    with open(_seen, "a") as f:
        f.write("%d %s %s %d\\n" % (worker.pid, req.path, resp.status_code, resp.sent))

def worker_exit(server, worker):
    open("DIR/exit-%d" % worker.pid, "w").close()
`);
  const server = await startNodicorn(['app:application'], { cwd: dir, bind: [] });
  let pids: number[] = [];
  try {
    await server.waitForLog(/Listening at: unix:\S+app\.sock/);
    const booted = /Booted 3 workers \(pids ([\d, ]+)\)/.exec(server.log());
    assert.ok(booted, server.log());
    pids = booted[1]!.split(', ').map(Number);
    // post_worker_init ran once in each worker, in that worker's own process.
    const inits = readdirSync(dir).filter((f) => f.startsWith('init-'));
    assert.deepEqual(inits.sort(), pids.map((p) => `init-${p}`).sort());
    for (const pid of pids)
      assert.match(readFileSync(join(dir, `init-${pid}`), 'utf8'), new RegExp(` ${pid}$`));
    assert.match(server.log(), /\[\d+\] \[INFO\] post_worker_init ran in \d+/);

    const tcp = await get(server.port, '/over/tcp?q=1');
    assert.match(tcp.body, /^GET \/over\/tcp \d+$/);
    assert.match(await getUnix(join(dir, 'app.sock'), '/over/unix'), /^GET \/over\/unix \d+$/);
    const servedBy = Number(tcp.body.split(' ').pop());
    assert.ok(pids.includes(servedBy));
    // post_request runs after the response went out: wait for its line.
    await until(
      () => readFileSync(join(dir, 'seen'), { flag: 'a+' }).toString().includes('/over/unix'),
      "post_request's line for /over/unix",
    );
    const seen = readFileSync(join(dir, 'seen'), 'utf8');
    assert.match(seen, new RegExp(`^${servedBy} /over/tcp 200 ${tcp.body.length}$`, 'm'));
  } finally {
    assert.equal(await server.stop(), 0);
  }
  // worker_exit ran in each worker as it stopped.
  for (const pid of pids) assert.ok(existsSync(join(dir, `exit-${pid}`)), `worker_exit in ${pid}`);
});

test('worker_abort runs in the worker killed for --timeout, after its stacks are logged', async () => {
  const dir = project(`timeout = 1
def worker_abort(worker):
    worker.log.warning("worker_abort in %s", worker.pid)
    open("DIR/aborted-%d" % worker.pid, "w").close()
`);
  await withNodicorn(
    ['-c', 'gunicorn.conf.py', 'app:application'],
    async (server) => {
      const hung = await get(server.port, '/hang');
      assert.equal(hung.status, 504);
      await server.waitForLog(/\[WARNING\] worker_abort in \d+/);
      const pid = /worker_abort in (\d+)/.exec(server.log())![1];
      assert.ok(existsSync(join(dir, `aborted-${pid}`)));
      assert.match(
        server.log(),
        /WORKER TIMEOUT[\s\S]*File "[^"]*app\.py", line \d+ in application[\s\S]*worker_abort in/,
      );
      assert.equal((await get(server.port, '/')).status, 200);
    },
    { cwd: dir },
  );
});

test('unknown and unsupported names are refused, each named with the reason; nothing starts', () => {
  const dir = project(`import os
wokers = 3
raw_env = ["A=1"]
worker_class = "gevent"
daemon = False
def when_ready(server):
    pass
`);
  const r = run(dir, '-c', 'gunicorn.conf.py', 'app:application');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /gunicorn\.conf\.py:\n/);
  assert.match(r.stderr, /wokers: not a Gunicorn setting \(did you mean workers\?\)/);
  assert.match(r.stderr, /raw_env = \["A=1"\]: unsupported in nodicorn/);
  assert.match(
    r.stderr,
    /worker_class = "gevent": not applicable in nodicorn: nodicorn's worker model is fixed/,
  );
  assert.match(
    r.stderr,
    /when_ready: a hook of Gunicorn's master process.*nodicorn\.config\.mjs as when_ready\(server\)/,
  );
  assert.doesNotMatch(r.stderr, /daemon/);
  assert.doesNotMatch(r.stdout + r.stderr, /Listening/);
});

test("a conf file's errors show its own traceback; python:MODULE is read too; the command line wins", () => {
  const broken = project('workers = 2\nraise RuntimeError("no config here")\n');
  const r = run(broken, 'app:application');
  assert.equal(r.status, 2);
  assert.match(
    r.stderr,
    /cannot read Gunicorn config file \S+gunicorn\.conf\.py:\nTraceback[^\n]*\n {2}File "\S+gunicorn\.conf\.py", line 2/,
  );
  assert.doesNotMatch(r.stderr, /nodicorn_worker/);

  const dir = project('workers = 2\ntimeout = 7\nwsgi_app = "app:application"\n', 'myconf.py');
  const printed = run(dir, '-c', 'python:myconf', '--print-config', '-t', '9');
  assert.equal(printed.status, 0, printed.stderr);
  assert.match(printed.stdout, /^workers\s+= "2" {2}\(config file\)$/m);
  assert.match(printed.stdout, /^timeout\s+= "9" {2}\(command line\)$/m);
  assert.match(printed.stdout, /^wsgi_app\s+= "app:application" {2}\(config file\)$/m);
});
