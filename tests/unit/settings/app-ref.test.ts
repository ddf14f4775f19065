import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBind } from '../../../src/server/binds.js';
import { parseAppRef } from '../../../src/settings/app-ref.js';

test('application references: Python modules and TypeScript files', () => {
  assert.deepEqual(parseAppRef('myproject.wsgi'), {
    kind: 'python',
    module: 'myproject.wsgi',
    attr: 'application',
  });
  assert.deepEqual(parseAppRef("app:create_app('x')"), {
    kind: 'python',
    module: 'app',
    attr: "create_app('x')",
  });
  assert.deepEqual(parseAppRef('./app.ts:app'), { kind: 'typescript', file: './app.ts', attr: 'app' });
  assert.deepEqual(parseAppRef('dist/app.js'), { kind: 'typescript', file: 'dist/app.js', attr: null });
  assert.throws(() => parseAppRef('app:'), /nothing after/);
  assert.throws(() => parseAppRef('my-app:x'), /not a Python module name/);
});

test('bind addresses as Gunicorn writes them', () => {
  assert.deepEqual(parseBind('127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000 });
  assert.deepEqual(parseBind('localhost'), { kind: 'tcp', host: 'localhost', port: 8000 });
  assert.deepEqual(parseBind(':9000'), { kind: 'tcp', host: '0.0.0.0', port: 9000 });
  assert.deepEqual(parseBind('[::1]:8080'), { kind: 'tcp', host: '::1', port: 8080 });
  assert.deepEqual(parseBind('unix:/run/app.sock'), { kind: 'unix', path: '/run/app.sock' });
  assert.throws(() => parseBind('::1:80'), /\[ADDR\]:PORT/);
  assert.throws(() => parseBind('h:99999'), /bad port/);
});

test('fd:// binds and systemd activation', async () => {
  const { activatedSockets } = await import('../../../src/server/binds.js');
  assert.deepEqual(parseBind('fd://3'), { kind: 'fd', fd: 3 });
  assert.throws(() => parseBind('fd://x'), /not a file descriptor/);
  assert.deepEqual(activatedSockets({ LISTEN_FDS: '2', LISTEN_PID: '77' }, 77), ['fd://3', 'fd://4']);
  assert.deepEqual(activatedSockets({ LISTEN_FDS: '2', LISTEN_PID: '78' }, 77), []);
  assert.deepEqual(activatedSockets({}, 77), []);
});
