import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SETTINGS } from '../../../src/settings/definitions.js';
import type { SettingError } from '../../../src/settings/registry.js';
import { resolveSettings } from '../../../src/settings/resolve.js';

test('defaults, then the environment, then the command line', () => {
  const defaults = resolveSettings([], {});
  assert.equal(defaults.settings.workers, 1);
  assert.deepEqual(defaults.settings.bind, ['127.0.0.1:8000']);
  const env = resolveSettings([], { NODICORN_WORKERS: '3', NODICORN_BIND: '0.0.0.0:9000,unix:/tmp/s' });
  assert.equal(env.settings.workers, 3);
  assert.equal(env.sources.workers, 'environment');
  assert.deepEqual(env.settings.bind, ['0.0.0.0:9000', 'unix:/tmp/s']);
  const cli = resolveSettings(['-w', '5', '--bind=127.0.0.1:1', '-b', 'unix:/x', 'app:application'], {
    NODICORN_WORKERS: '3',
  });
  assert.equal(cli.settings.workers, 5);
  assert.equal(cli.sources.workers, 'command line');
  assert.deepEqual(cli.settings.bind, ['127.0.0.1:1', 'unix:/x']);
  assert.deepEqual(cli.positionals, ['app:application']);
  assert.ok(Object.isFrozen(cli.settings));
});

test('short flags with attached values, on/off flags, Gunicorn spellings', () => {
  const r = resolveSettings(
    ['-w4', '--reload', '--limit-request-field_size', '100', '--keep-alive', '5'],
    {},
  );
  assert.equal(r.settings.workers, 4);
  assert.equal(r.settings.reload, true);
  assert.equal(r.settings.limit_request_field_size, 100);
  assert.equal(r.settings.keepalive, 5);
});

test('a misspelt flag fails and a misspelt NODICORN_ variable warns, both with the closest known name', () => {
  assert.throws(
    () => resolveSettings(['--worker', '2'], {}),
    (e: SettingError) => /unknown option --worker; did you mean --workers\?/.test(e.message),
  );
  // The environment is shared with other tools: an unknown variable is ignored, with a warning to show.
  const misspelt = resolveSettings([], { NODICORN_WROKERS: '2', NODICORN_CMD: 'x', NODICORN_TIMEOUT: '9' });
  assert.deepEqual(misspelt.warnings, [
    'ignoring unknown environment variable NODICORN_WROKERS; did you mean NODICORN_WORKERS?',
    'ignoring unknown environment variable NODICORN_CMD; did you mean NODICORN_BIND?',
  ]);
  assert.equal(misspelt.settings.workers, SETTINGS.workers.default);
  assert.equal(misspelt.settings.timeout, 9);
  assert.deepEqual(resolveSettings([], { NODICORN_TIMEOUT: '9' }).warnings, []);
  assert.throws(
    () => resolveSettings(['--timeout', 'soon'], {}),
    (e: SettingError) => /--timeout: expected seconds/.test(e.message),
  );
  assert.throws(
    () => resolveSettings(['-w', '0'], {}),
    (e: SettingError) => /expected a number from 1/.test(e.message),
  );
  assert.throws(
    () => resolveSettings(['--workers'], {}),
    (e: SettingError) => /needs a value/.test(e.message),
  );
});

test('every setting has a flag, an environment variable and a doc line', () => {
  for (const [name, s] of Object.entries(SETTINGS)) {
    assert.match(s.flag, /^--[a-z][a-z0-9_-]+$/, name);
    assert.equal(s.env, `NODICORN_${s.key.toUpperCase()}`);
    assert.ok(s.doc.length > 10, name);
  }
});

test('server hooks: functions from a config module only; refused from the command line, the environment and JSON', () => {
  const onStarting = () => {};
  const r = resolveSettings([], {}, { path: 'c.mjs', values: { on_starting: onStarting, workers: 2 } });
  assert.equal(r.settings.on_starting, onStarting);
  assert.equal(r.sources.on_starting, 'config file');
  assert.equal(resolveSettings([], {}).settings.when_ready, null);
  assert.throws(
    () => resolveSettings(['--on-starting', 'x'], {}),
    /--on-starting: on_starting is a server hook, a function: it can only be set in a nodicorn\.config\.mjs, \.js or \.ts file/,
  );
  assert.throws(
    () => resolveSettings([], { NODICORN_PRE_REQUEST: 'x' }),
    /NODICORN_PRE_REQUEST: pre_request is a server hook/,
  );
  assert.throws(
    () => resolveSettings([], {}, { path: 'c.json', values: { when_ready: 'log it' } }),
    /c\.json: when_ready: expected a function, got string/,
  );
});

test("Gunicorn's other spelling of a flag: --log-file for --error-logfile", () => {
  assert.equal(resolveSettings(['--log-file', '/tmp/e.log'], {}).settings.errorlog, '/tmp/e.log');
});
