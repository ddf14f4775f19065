#!/usr/bin/env node
// Runs every compiled test file with node:test. Node 20 does not expand globs, so the list is built here.
// Usage: node scripts/run-tests.js [substring ...]   (only files whose path under tests/ contains one of the
// substrings: the checkout's own path, such as a worktree named wt-preload, must not select every file)
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
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
// Every process a test starts carries this mark in its environment (children inherit it), so any still
// running once the tests are done is one a test failed to stop.
const MARK = `TESTS_LEFT_BEHIND_CHECK=${process.pid}.${Date.now()}`;
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=120000', ...selected],
  { stdio: 'inherit', env: { ...process.env, [MARK.split('=')[0]]: MARK.split('=')[1] } },
);

/** Processes (pid and command line) that carry the mark, from /proc; [] where there is no /proc. */
function marked() {
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  } catch {
    return [];
  }
  const found = [];
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(MARK)) continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      found.push({ pid: Number(pid), args });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

// A process killed as its test ended may take a moment to go: wait up to 3 s for none to be left.
let left = marked();
for (const deadline = Date.now() + 3000; left.length > 0 && Date.now() < deadline; left = marked())
  await new Promise((resolve) => setTimeout(resolve, 100));
if (left.length > 0) {
  console.error(`\n${left.length} process(es) started by the tests were still running; killed now:`);
  for (const { pid, args } of left) {
    console.error(`  ${pid} ${args.slice(0, 200)}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  process.exit(result.status === 0 ? 1 : (result.status ?? 1));
}
process.exit(result.status ?? 1);
