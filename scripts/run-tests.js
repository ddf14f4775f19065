#!/usr/bin/env node
// Runs every compiled test file with node:test. Node 20 does not expand globs, so the list is built here.
// Usage: node scripts/run-tests.js [substring ...]   (only files whose path under tests/ contains one of the
// substrings: the checkout's own path, such as a worktree named wt-preload, must not select every file)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../dist/tests/', import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
};
walk(root);
const filters = process.argv.slice(2);
const selected =
  filters.length === 0 ? files : files.filter((f) => filters.some((s) => relative(root, f).includes(s)));
if (selected.length === 0) {
  console.error('no test files found under dist/tests (did the build run?)');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=120000', ...selected],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
