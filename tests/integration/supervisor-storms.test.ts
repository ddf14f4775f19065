/**
 * Signal storms against the real server: the supervisor policy (src/supervisor/policy.ts) must end at
 * exactly the target number of workers, and after reloads only the newest code answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { pythonWorkers, until } from '../helpers/processes.js';
import { type RunningNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function versionedApp(version: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-versioned-'));
  const file = join(dir, 'VERSION');
  writeFileSync(file, version);
  return { dir, file };
}

/** The bodies of 10 requests in a row: which generations of the app answer. */
async function answers(server: RunningNodicorn): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add((await get(server.port, '/')).body);
  return seen;
}

/** Until two workers run and every answer is `body` (the newest generation). */
function untilOnly(server: RunningNodicorn, body: string): Promise<void> {
  return until(
    async () => pythonWorkers(server).length === 2 && [...(await answers(server))].join() === body,
    `${body} only`,
    30_000,
  );
}

test('10 × (TTIN, TTOU) 10 ms apart on -w 2 ends with exactly 2 workers', async () => {
  const { file } = versionedApp('v1');
  await withNodicorn(
    ['--chdir', PY, 'versioned:application', '-w', '2'],
    async (server) => {
      for (let i = 0; i < 10; i++) {
        server.process.kill('SIGTTIN');
        await pause(10);
        server.process.kill('SIGTTOU');
        await pause(10);
      }
      // The count the log gave last (the storm ends with a TTOU: once it is handled, that count is 2).
      const lastCount = () => [...server.log().matchAll(/workers: (\d+)/g)].at(-1)?.[1];
      await until(
        () => lastCount() === '2' && pythonWorkers(server).length === 2,
        `2 workers (now ${pythonWorkers(server).length}, the log says ${lastCount()})`,
        30_000,
      );
      // The log tells the truth too: the last count it gives is the target.
      assert.equal(lastCount(), '2');
      assert.equal((await get(server.port, '/')).status, 200);
    },
    {
      env: { VERSION_FILE: file },
    },
  );
});

test('3 SIGHUPs 0.2 s apart while the new code takes 1 s to import: 2 workers, all on the newest code', async () => {
  const { file } = versionedApp('v0');
  await withNodicorn(
    ['--chdir', PY, 'versioned:application', '-w', '2'],
    async (server) => {
      for (const version of ['v1', 'v2', 'v3']) {
        writeFileSync(file, version);
        server.process.kill('SIGHUP');
        await pause(200);
      }
      await server.waitForLog(/Reloaded: workers now \d+/, 30_000);
      await untilOnly(server, 'v3');
      // Serving went on throughout: every request was answered by some generation.
      assert.deepEqual([...(await answers(server))], ['v3']);
    },
    {
      env: { VERSION_FILE: file, SLOW_BOOT: '1' },
      timeoutMs: 30_000,
    },
  );
});

test('--reload: two saves 0.6 s apart while the app takes 1 s to import: 2 workers, all on the newest code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-reload-storm-'));
  const save = (version: string) =>
    writeFileSync(
      join(dir, 'app.py'),
      [
        'import os, time',
        `VERSION = ${JSON.stringify(version)}`,
        'time.sleep(float(os.environ.get("SLOW_BOOT", "0")))',
        'def application(environ, start_response):',
        '    start_response("200 OK", [("Content-Type", "text/plain")])',
        '    return [VERSION.encode()]',
        '',
      ].join('\n'),
    );
  save('v1');
  await withNodicorn(
    ['--chdir', dir, 'app:application', '-w', '2', '--reload'],
    async (server) => {
      assert.equal((await get(server.port, '/')).body, 'v1');
      save('v2');
      await pause(600);
      save('v3');
      await server.waitForLog(/reloading: app\.py changed[\s\S]*reloading: app\.py changed/, 30_000);
      await server.waitForLog(/Reloaded: workers now \d+/, 30_000);
      await untilOnly(server, 'v3');
      assert.deepEqual([...(await answers(server))], ['v3']);
      assert.equal(pythonWorkers(server).length, 2);
      assert.doesNotMatch(server.log(), /Handling signal: hup/);
    },
    {
      env: { SLOW_BOOT: '1' },
      timeoutMs: 30_000,
    },
  );
});
