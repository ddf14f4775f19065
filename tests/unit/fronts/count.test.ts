import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseFronts, frontForFewer, frontForMore, shareOut } from '../../../src/fronts/count.js';
import { SETTINGS } from '../../../src/settings/definitions.js';
import { FRONT_SHARE, frontCount } from '../../../src/settings/front-count.js';

test('--fronts takes auto or a number of fronts', () => {
  assert.equal(SETTINGS.fronts.default, 'auto');
  assert.equal(SETTINGS.fronts.env, 'NODICORN_FRONTS');
  assert.equal(frontCount('auto'), 'auto');
  assert.equal(frontCount(' AUTO '), 'auto');
  assert.equal(frontCount('3'), 3);
  for (const bad of ['0', '-1', '1.5', 'two', '', '65'])
    assert.throws(() => frontCount(bad), /expected auto or a number from 1 to 64/, bad);
});

test("auto: a Python app gets its fronts' share of the cores its workers can keep busy, rounded", () => {
  const python = (workers: number) => ({ python: true, workers });
  assert.equal(FRONT_SHARE, 0.4);
  // This 2-core machine: 0.8 of a core of front work, one front (a second costs Flask JSON 17 %).
  assert.equal(chooseFronts('auto', 2, python(2)), 1);
  assert.equal(chooseFronts('auto', 1, python(4)), 1);
  assert.equal(chooseFronts('auto', 3, python(7)), 1);
  assert.equal(chooseFronts('auto', 4, python(4)), 2);
  assert.equal(chooseFronts('auto', 8, python(17)), 3);
  assert.equal(chooseFronts('auto', 16, python(33)), 6);
  // Few workers cap the work the fronts get, whatever the cores.
  assert.equal(chooseFronts('auto', 16, python(2)), 1);
  assert.equal(chooseFronts('auto', 16, python(4)), 3);
  assert.equal(chooseFronts('auto', 64, python(1)), 1);
  // An in-process app keeps one unless asked: more fronts would split its in-memory state.
  assert.equal(chooseFronts('auto', 64, { python: false, workers: 1 }), 1);
  // A number is taken as given.
  assert.equal(chooseFronts(3, 1, python(1)), 3);
  assert.equal(chooseFronts(2, 2, { python: false, workers: 1 }), 2);
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
