import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SETTINGS } from '../../../src/settings/definitions.js';

test('--umask reads masks as Gunicorn does: 0o and leading-0 octal, 0x hex, plain digits decimal', () => {
  const parse = SETTINGS.umask.parse;
  assert.equal(parse('0o22'), 0o22);
  assert.equal(parse('022'), 0o22);
  assert.equal(parse('0O117'), 0o117);
  assert.equal(parse('0x12'), 0o22);
  assert.equal(parse('18'), 0o22);
  assert.equal(parse('0'), 0);
  for (const bad of ['0o8', '09', 'abc', '-1', '0o1000', ''])
    assert.throws(() => parse(bad), /expected a mask/, bad);
});

test('--user and --group take names or numeric ids', () => {
  for (const ok of ['nobody', 'www-data', '65534', '_apt', 'machine$'])
    assert.equal(SETTINGS.user.parse(ok), ok);
  for (const bad of ['bad name', 'a:b', '-x'])
    assert.throws(() => SETTINGS.group.parse(bad), /name or a numeric id/);
});

test('--max-worker-memory takes bytes, or K, M, G (KiB, MiB, GiB)', () => {
  const parse = SETTINGS.max_worker_memory.parse;
  assert.equal(parse('1048576'), 1048576);
  assert.equal(parse('512M'), 512 * 1024 ** 2);
  assert.equal(parse('2g'), 2 * 1024 ** 3);
  assert.equal(parse('300KiB'), 300 * 1024);
  for (const bad of ['', '1.5G', '-1', '12T', 'M'])
    assert.throws(() => parse(bad), /expected bytes/, JSON.stringify(bad));
});
