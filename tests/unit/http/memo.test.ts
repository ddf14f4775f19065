import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoize } from '../../../src/http/memo.js';

test('memoize computes once per key, remembers null results, and stays bounded', () => {
  let calls = 0;
  const f = memoize((k) => {
    calls++;
    return k === 'none' ? null : k.length;
  }, 3);
  assert.equal(f('abc'), 3);
  assert.equal(f('abc'), 3);
  assert.equal(f('none'), null);
  assert.equal(f('none'), null);
  assert.equal(calls, 2);
  f('x');
  f('yy'); // the fourth key clears the cache
  assert.equal(f('abc'), 3);
  assert.equal(calls, 5);
});
