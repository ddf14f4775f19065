import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionCap, openFileLimit, parseOpenFileLimit } from '../../../src/server/fd-limit.js';

test('the open-file limit is read from /proc/self/limits', () => {
  const text =
    'Limit                     Soft Limit           Hard Limit           Units     \n' +
    'Max processes             63504                63504                processes \n' +
    'Max open files            1024                 524288               files     \n';
  assert.deepEqual(parseOpenFileLimit(text), { soft: 1024, hard: 524288 });
  assert.deepEqual(parseOpenFileLimit('Max open files  unlimited  unlimited  files'), {
    soft: Number.POSITIVE_INFINITY,
    hard: Number.POSITIVE_INFINITY,
  });
  assert.equal(parseOpenFileLimit('nothing here'), null);
  const own = openFileLimit();
  if (own !== null) assert.ok(own.soft > 0 && own.soft <= own.hard);
});

test('the connection cap stays below the limit by what is open, the workers and a margin', () => {
  assert.equal(connectionCap(1024, 30, 4), 1024 - 30 - 24 - 64);
  assert.equal(connectionCap(256, 20, 1), 256 - 20 - 6 - 32);
  assert.equal(connectionCap(64, 60, 8), 1);
  assert.equal(connectionCap(Number.POSITIVE_INFINITY, 30, 4), Number.POSITIVE_INFINITY);
});
