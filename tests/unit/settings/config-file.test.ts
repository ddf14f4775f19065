import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findConfigFile, loadConfigFile } from '../../../src/settings/config-file.js';
import type { SettingError } from '../../../src/settings/registry.js';
import { resolveSettings } from '../../../src/settings/resolve.js';

const dir = () => mkdtempSync(join(tmpdir(), 'nodicorn-config-'));

test('a JSON config file sits between the defaults and the environment', async () => {
  const d = dir();
  writeFileSync(
    join(d, 'nodicorn.config.json'),
    JSON.stringify({ workers: 3, timeout: 12, bind: ['127.0.0.1:9000', 'unix:/tmp/a'], reload: true }),
  );
  const path = findConfigFile('', d)!;
  assert.equal(path, join(d, 'nodicorn.config.json'));
  const file = await loadConfigFile(path);
  const r = resolveSettings(['-w', '5'], { NODICORN_TIMEOUT: '20' }, file);
  assert.equal(r.settings.workers, 5);
  assert.equal(r.sources.workers, 'command line');
  assert.equal(r.settings.timeout, 20);
  assert.equal(r.sources.timeout, 'environment');
  assert.deepEqual(r.settings.bind, ['127.0.0.1:9000', 'unix:/tmp/a']);
  assert.equal(r.sources.bind, 'config file');
  assert.equal(r.settings.reload, true);
});

test('a module config file may export an object or a function returning one', async () => {
  const d = dir();
  writeFileSync(join(d, 'a.mjs'), 'export default { threads: 4 };');
  writeFileSync(join(d, 'b.mjs'), 'export default async () => ({ max_requests: 100 });');
  assert.equal(resolveSettings([], {}, await loadConfigFile(join(d, 'a.mjs'))).settings.threads, 4);
  assert.equal(resolveSettings([], {}, await loadConfigFile(join(d, 'b.mjs'))).settings.max_requests, 100);
});

test('a misspelt or invalid config key fails with the closest known setting', async () => {
  const d = dir();
  writeFileSync(join(d, 'bad.json'), JSON.stringify({ wokers: 2 }));
  const file = await loadConfigFile(join(d, 'bad.json'));
  assert.throws(
    () => resolveSettings([], {}, file),
    (e: SettingError) => /unknown setting "wokers"; did you mean "workers"\?/.test(e.message),
  );
  writeFileSync(join(d, 'worse.json'), JSON.stringify({ workers: 'many' }));
  assert.throws(
    () => resolveSettings([], {}, { path: 'worse.json', values: { workers: 'many' } }),
    /worse\.json: workers: expected a whole number/,
  );
  writeFileSync(join(d, 'list.json'), '[1,2]');
  await assert.rejects(loadConfigFile(join(d, 'list.json')), /must hold \(or export as default\) an object/);
  assert.equal(findConfigFile('', dir()), null);
});

test('a Gunicorn config file is read by the step the caller hands in; settings only map its names', async () => {
  const d = dir();
  const calls: Array<{ location: string; python: string; cwd: string }> = [];
  const file = await loadConfigFile(join(d, 'gunicorn.conf.py'), {
    python: '/opt/py/bin/python3',
    env: {},
    cwd: d,
    readGunicornConf: async (location, context) => {
      calls.push({ location, python: context.python, cwd: context.cwd });
      return {
        names: {
          workers: { value: 3 },
          bind: { value: ['127.0.0.1:9001'] },
          post_fork: { callable: 'function', here: true, arity: 2 },
          cpu_count: { callable: 'function', here: false, arity: 0 },
        },
        output: 'printed while loading\n',
      };
    },
  });
  assert.deepEqual(calls, [{ location: join(d, 'gunicorn.conf.py'), python: '/opt/py/bin/python3', cwd: d }]);
  assert.deepEqual(file, {
    path: join(d, 'gunicorn.conf.py'),
    values: { workers: 3, bind: ['127.0.0.1:9001'] },
    workerHooks: { location: join(d, 'gunicorn.conf.py'), cwd: d, names: ['post_fork'] },
    output: 'printed while loading\n',
  });
  assert.equal(resolveSettings([], {}, file).settings.workers, 3);
});
