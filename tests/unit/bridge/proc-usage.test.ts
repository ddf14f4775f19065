import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { cpuSecondsOf, readRss, readUsage, rssOf, USER_HZ } from '../../../src/bridge/proc-usage.js';

test('CPU seconds are utime plus stime, counted from the last parenthesis of the command name', () => {
  // The command name (field 2) may hold spaces and parentheses: "python3 (worker) x".
  const stat =
    '4242 (python3 (worker) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 1 0 123 1000 200';
  assert.equal(cpuSecondsOf(stat), (250 + 75) / USER_HZ);
  assert.ok(Number.isNaN(cpuSecondsOf('garbage')));
});

test('resident set size from VmRSS in kB; none (a zombie) reads as 0', () => {
  assert.equal(rssOf('Name:\tpython3\nVmHWM:\t  9000 kB\nVmRSS:\t  8192 kB\n'), 8192 * 1024);
  assert.equal(rssOf('Name:\tpython3\nState:\tZ (zombie)\n'), 0);
});

test("a live process's usage agrees with what it says of itself; a gone one has none", async () => {
  const spent = process.cpuUsage();
  const usage = await readUsage(process.pid);
  assert.ok(usage !== null);
  assert.equal(usage.pid, process.pid);
  const own = process.memoryUsage.rss();
  assert.ok(usage.rssBytes > own / 2 && usage.rssBytes < own * 2, `${usage.rssBytes} vs ${own}`);
  // /proc counts whole ticks (1/USER_HZ s) of user and of system time, so it may trail by one of each.
  const seconds = (spent.user + spent.system) / 1e6;
  const later = process.cpuUsage();
  const laterSeconds = (later.user + later.system) / 1e6;
  assert.ok(
    usage.cpuSeconds > seconds - 2 / USER_HZ && usage.cpuSeconds <= laterSeconds + 2 / USER_HZ,
    `/proc: ${usage.cpuSeconds} s; the process: ${seconds} s, then ${laterSeconds} s`,
  );
  assert.ok((await readRss(process.pid)) > 0);

  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  assert.equal(await readUsage(child.pid!), null);
  assert.equal(await readRss(child.pid!), 0);
});
