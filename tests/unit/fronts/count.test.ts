import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CORES_PER_FRONT,
  chooseFronts,
  frontCount,
  frontForFewer,
  frontForMore,
  shareOut,
} from '../../../src/fronts/count.js';
import { SETTINGS } from '../../../src/settings/definitions.js';

test('--fronts takes auto or a number of fronts', () => {
  assert.equal(SETTINGS.fronts.default, 'auto');
  assert.equal(SETTINGS.fronts.env, 'NODICORN_FRONTS');
  assert.equal(frontCount('auto'), 'auto');
  assert.equal(frontCount(' AUTO '), 'auto');
  assert.equal(frontCount('3'), 3);
  for (const bad of ['0', '-1', '1.5', 'two', '', '65'])
    assert.throws(() => frontCount(bad), /expected auto or a number from 1 to 64/, bad);
});

test('auto: one front per CORES_PER_FRONT cores, never more than the Python workers, at least one', () => {
  const python = (workers: number) => ({ python: true, workers });
  assert.equal(chooseFronts('auto', 1, python(4)), 1);
  assert.equal(chooseFronts('auto', 2, python(4)), 1);
  assert.equal(chooseFronts('auto', CORES_PER_FRONT, python(8)), 1);
  assert.equal(chooseFronts('auto', 2 * CORES_PER_FRONT, python(8)), 2);
  assert.equal(chooseFronts('auto', 8 * CORES_PER_FRONT, python(3)), 3);
  assert.equal(chooseFronts('auto', 8 * CORES_PER_FRONT, python(1)), 1);
  // An in-process app has no workers to share out: the cores alone decide.
  assert.equal(chooseFronts('auto', 4 * CORES_PER_FRONT, { python: false, workers: 1 }), 4);
  // A number is taken as given.
  assert.equal(chooseFronts(3, 1, python(1)), 3);
});

test('workers are shared out evenly, the first fronts taking one more', () => {
  assert.deepEqual(shareOut(4, 2), [2, 2]);
  assert.deepEqual(shareOut(5, 2), [3, 2]);
  assert.deepEqual(shareOut(7, 3), [3, 2, 2]);
  assert.deepEqual(shareOut(0, 2), [0, 0]);
});

test('TTIN goes to the front with fewest workers, TTOU to the one with most, never below one', () => {
  assert.equal(frontForMore([3, 2]), 1);
  assert.equal(frontForMore([2, 2]), 0);
  assert.equal(frontForFewer([3, 2]), 0);
  assert.equal(frontForFewer([2, 2]), 1);
  assert.equal(frontForFewer([1, 2, 1]), 1);
  assert.equal(frontForFewer([1, 1]), -1);
});
