import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfName } from '../../../src/settings/config-types.js';
import { mapGunicornNames } from '../../../src/settings/gunicorn-conf.js';

const value = (v: unknown): ConfName => ({ value: v });
const fn = (arity: number, here = true): ConfName => ({ callable: 'function', here, arity });

test('mapped names become nodicorn settings; None leaves the default', () => {
  const mapped = mapGunicornNames('g.py', {
    bind: value(['127.0.0.1:1', 'unix:/tmp/s']),
    workers: value(5),
    reload: value(true),
    accesslog: value(null),
    statsd_host: value('localhost:8125'),
    wsgi_app: value('app:application'),
    config: value('ignored, as Gunicorn ignores it here'),
  });
  assert.deepEqual(mapped.values, {
    bind: ['127.0.0.1:1', 'unix:/tmp/s'],
    workers: 5,
    reload: true,
    statsd_host: 'localhost:8125',
    wsgi_app: 'app:application',
  });
  assert.deepEqual(mapped.hooks, []);
});

test('imported names and modules are not settings; helpers with a leading _ are not listed at all', () => {
  const mapped = mapGunicornNames('g.py', {
    cpu_count: { callable: 'function', here: false, arity: 0 },
    environ: { object: '_Environ', here: false },
    threads: value(2),
  });
  assert.deepEqual(mapped.values, { threads: 2 });
});

test('values that ask for what nodicorn does anyway are accepted; others are refused with the reason', () => {
  const ok = mapGunicornNames('g.py', {
    worker_class: value('sync'),
    daemon: value(false),
    worker_tmp_dir: value('/dev/shm'),
    secure_scheme_headers: value({
      'X-FORWARDED-PROTOCOL': 'ssl',
      'X-FORWARDED-PROTO': 'https',
      'X-FORWARDED-SSL': 'on',
    }),
    capture_output: value(true),
  });
  assert.deepEqual(ok.values, {});
  assert.throws(
    () =>
      mapGunicornNames('g.py', {
        worker_class: value('gevent'),
        raw_env: value(['A=1']),
        daemon: value(true),
      }),
    (e: Error) =>
      /^g\.py:\n {2}worker_class = "gevent": not applicable in nodicorn: nodicorn's worker model is fixed/.test(
        e.message,
      ) &&
      /\n {2}raw_env = \["A=1"\]: unsupported in nodicorn: Set the variables/.test(e.message) &&
      /\n {2}daemon = true: not applicable/.test(e.message),
  );
});

test('an unknown name is refused with the closest Gunicorn setting', () => {
  assert.throws(
    () => mapGunicornNames('g.py', { wokers: value(3) }),
    /wokers: not a Gunicorn setting \(did you mean workers\?\); Gunicorn ignores such names, nodicorn refuses them/,
  );
  assert.throws(
    () => mapGunicornNames('g.py', { post_worker_int: fn(1) }),
    /did you mean post_worker_init\?/,
  );
});

test('worker hooks are kept for the workers (arity checked); master hooks point to nodicorn.config.mjs', () => {
  const mapped = mapGunicornNames('g.py', {
    post_fork: fn(2),
    post_worker_init: fn(1),
    pre_request: fn(2),
    post_request: fn(3),
    worker_exit: fn(2),
    worker_abort: fn(-1),
  });
  assert.deepEqual(mapped.hooks, [
    'post_fork',
    'post_worker_init',
    'pre_request',
    'post_request',
    'worker_exit',
    'worker_abort',
  ]);
  assert.throws(
    () => mapGunicornNames('g.py', { when_ready: fn(1) }),
    /when_ready: a hook of Gunicorn's master process, which is Node in nodicorn and cannot run Python; write it in nodicorn\.config\.mjs as when_ready\(server\)/,
  );
  assert.throws(() => mapGunicornNames('g.py', { pre_fork: fn(2) }), /pre_fork: this hook is not applicable/);
  assert.throws(
    () => mapGunicornNames('g.py', { post_worker_init: fn(2) }),
    /post_worker_init: must take one argument \(worker\), takes 2/,
  );
  assert.throws(
    () => mapGunicornNames('g.py', { pre_request: value(1) }),
    /pre_request: expected a function/,
  );
  assert.throws(
    () => mapGunicornNames('g.py', { workers: fn(0) }),
    /workers: expected a value, got a function/,
  );
});

test('the privilege and PROXY protocol settings map to their nodicorn keys', () => {
  const mapped = mapGunicornNames('g.py', {
    user: value('www-data'),
    umask: value(18),
    proxy_protocol: value(true),
  });
  assert.deepEqual(mapped.values, { user: 'www-data', umask: 18, proxy_protocol: true });
});
