/**
 * --reload with real processes: the workers report the modules they imported (READY, then SOURCES after
 * a request that imported more), Node watches those files' directories and --reload-extra-file, and a
 * save replaces the workers with ones serving the new code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

test('--reload restarts workers when the app source changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-reload-'));
  const write = (word: string) =>
    writeFileSync(
      join(dir, 'live.py'),
      `def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"${word}"]\n`,
    );
  write('one');
  await withNodicorn(['--chdir', dir, 'live:application', '--reload'], async (server) => {
    assert.equal((await get(server.port, '/')).body, 'one');
    write('two');
    await server.waitForLog('reloading: live.py changed');
    await server.waitForLog('Reloaded: workers now');
    assert.equal((await get(server.port, '/')).body, 'two');
    assert.doesNotMatch(server.log(), /Handling signal: hup/);
  });
});

test('--reload watches the modules the app imported from --pythonpath and --reload-extra-file, one watch per directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-reload-'));
  const lib = join(dir, 'lib');
  mkdirSync(lib);
  mkdirSync(join(dir, 'templates'));
  // A virtualenv beside the app: never walked, and the app does not import from it.
  mkdirSync(join(dir, '.venv', 'lib', 'site-packages'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(dir, '.venv', 'lib', 'site-packages', `m${i}.py`), '');
  writeFileSync(join(lib, 'helper.py'), 'WORD = "one"\n');
  writeFileSync(join(dir, 'templates', 'page.txt'), 'page');
  writeFileSync(
    join(dir, 'app.py'),
    [
      'import json, os',
      'from helper import WORD',
      'PAGE = open(os.path.join(os.path.dirname(__file__), "templates", "page.txt")).read()',
      'def application(environ, start_response):',
      '    start_response("200 OK", [])',
      '    return [(WORD + " " + PAGE).encode()]',
      '',
    ].join('\n'),
  );
  await withNodicorn(
    [
      '--chdir',
      dir,
      '--pythonpath',
      lib,
      'app:application',
      '--reload',
      '--reload-extra-file',
      'templates/page.txt',
    ],
    async (server) => {
      // app.py, lib/helper.py and the template: the stdlib (json, os) and nodicorn's own modules are not watched.
      assert.match(server.log(), /--reload: watching 3 files in 3 directories/);
      assert.equal((await get(server.port, '/')).body, 'one page');
      writeFileSync(join(lib, 'helper.py'), 'WORD = "two"\n');
      await server.waitForLog('reloading: lib/helper.py changed');
      await server.waitForLog(/Reloaded: workers now \d+/);
      assert.equal((await get(server.port, '/')).body, 'two page');
      writeFileSync(join(dir, 'templates', 'page.txt'), 'PAGE');
      await server.waitForLog('reloading: templates/page.txt changed');
      await server.waitForLog(/Reloaded: workers now \d+[\s\S]*Reloaded: workers now \d+/);
      assert.equal((await get(server.port, '/')).body, 'two PAGE');
    },
  );
});

test('--reload watches a module the app imports only on its first request (as Django does its views)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-reload-'));
  writeFileSync(join(dir, 'views.py'), 'WORD = "one"\n');
  writeFileSync(
    join(dir, 'lazy.py'),
    [
      'def application(environ, start_response):',
      '    from views import WORD',
      '    start_response("200 OK", [])',
      '    return [WORD.encode()]',
      '',
    ].join('\n'),
  );
  await withNodicorn(['--chdir', dir, 'lazy:application', '--reload'], async (server) => {
    assert.match(server.log(), /--reload: watching 1 files in 1 directories/);
    assert.equal((await get(server.port, '/')).body, 'one'); // imports views.py, reported after this request
    await server.waitForLog('--reload: now watching views.py');
    writeFileSync(join(dir, 'views.py'), 'WORD = "two"\n');
    await server.waitForLog('reloading: views.py changed');
    await server.waitForLog(/Reloaded: workers now \d+/);
    assert.equal((await get(server.port, '/')).body, 'two');
  });
});

test("--reload is not Gunicorn's, also under --preload: a save that cannot be imported leaves the old workers serving, the next good one is served", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-reload-'));
  const write = (source: string) => writeFileSync(join(dir, 'live.py'), source);
  const app = (word: string) =>
    `def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"${word}"]\n`;
  write(app('one'));
  const server = await startNodicorn(['--chdir', dir, 'live:application', '--reload', '--preload']);
  try {
    assert.equal((await get(server.port, '/')).body, 'one');
    write('def application(environ, start_response:\n');
    await server.waitForLog('Reload failed; the current workers keep serving.');
    assert.match(server.log(), /SyntaxError/);
    assert.equal((await get(server.port, '/')).body, 'one');
    write(app('two'));
    await server.waitForLog(/Reloaded: workers now \d+/);
    assert.equal((await get(server.port, '/')).body, 'two');
  } finally {
    await server.stop();
  }
});
