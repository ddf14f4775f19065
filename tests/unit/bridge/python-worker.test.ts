/** Runs the Python worker's own unit tests (tests/python, stdlib unittest) under the interpreter nodicorn picks. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { repoRoot } from '../../helpers/paths.js';

test('python -m unittest discover tests/python', () => {
  const result = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'tests/python', '-v'], {
    cwd: repoRoot,
    env: { ...process.env, PYTHONPATH: `${repoRoot}python` },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /\nOK\n?$/);
});
