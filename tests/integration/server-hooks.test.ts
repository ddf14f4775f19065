/**
 * Server hooks in nodicorn.config.mjs, with real config files: called in Node at the right moments, with
 * what Gunicorn's hooks get; a throwing hook is logged and the server lives, except on_starting.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures, repoRoot } from '../helpers/paths.js';
import { startNodicorn } from '../helpers/server.js';

/** A directory with a nodicorn.config.mjs whose hooks append JSON lines to DIR/events. */
function project(hooks: string): { dir: string; events: () => Array<Record<string, unknown>> } {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-hooks-'));
  writeFileSync(
    join(dir, 'nodicorn.config.mjs'),
    `import { appendFileSync } from 'node:fs';
const record = (event) => appendFileSync(${JSON.stringify(join(dir, 'events'))}, JSON.stringify(event) + '\\n');
export default { ${hooks} };
`,
  );
  const events = () =>
    existsSync(join(dir, 'events'))
      ? readFileSync(join(dir, 'events'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];
  return { dir, events };
}

async function until<T>(what: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a TypeScript app: on_starting, when_ready, pre_request, post_request and on_exit, in order', async () => {
  const { dir, events } = project(`
    workers: 1,
    on_starting: async (settings) => record({ hook: 'on_starting', threads: settings.threads }),
    when_ready: (server) => record({ hook: 'when_ready', pid: server.pid, addresses: server.addresses, workers: server.workers }),
    pre_request: (environ) => {
      if (environ.PATH_INFO === '/throw') throw new Error('pre_request failed on purpose');
      environ.HTTP_X_SEEN_BY = 'node';
    },
    post_request: (environ, status) => record({ hook: 'post_request', path: environ.PATH_INFO, status }),
    on_exit: async (server) => record({ hook: 'on_exit', pid: server.pid }),
  `);
  const server = await startNodicorn(['--threads', '3', `${repoRoot}dist/examples/echo.js:app`], {
    cwd: dir,
  });
  const pid = server.process.pid;
  try {
    const echoed = JSON.parse((await get(server.port, '/echo')).body) as { environ: Record<string, string> };
    assert.equal(echoed.environ.HTTP_X_SEEN_BY, 'node');
    // A throwing hook is logged with its stack; the request and the server carry on.
    const thrown = await get(server.port, '/throw');
    assert.equal(thrown.status, 200);
    await server.waitForLog(
      /\[ERROR\] Exception in pre_request hook\nError: pre_request failed on purpose\n\s+at /,
    );
    assert.equal((await get(server.port, '/missing-is-fine')).status, 200);
    await until(() => (events().filter((e) => e.hook === 'post_request').length === 3 ? true : undefined));
  } finally {
    assert.equal(await server.stop(), 0);
  }
  const seen = events();
  assert.deepEqual(seen[0], { hook: 'on_starting', threads: 3 });
  assert.deepEqual(seen[1], { hook: 'when_ready', pid, addresses: [server.url], workers: [] });
  assert.deepEqual(
    seen.filter((e) => e.hook === 'post_request'),
    [
      { hook: 'post_request', path: '/echo', status: 200 },
      { hook: 'post_request', path: '/throw', status: 200 },
      { hook: 'post_request', path: '/missing-is-fine', status: 200 },
    ],
  );
  assert.deepEqual(seen.at(-1), { hook: 'on_exit', pid });
});

test('Python workers: post_worker_init and worker_exit are called in Node with each pid', async () => {
  const { dir, events } = project(`
    post_worker_init: (worker) => record({ hook: 'post_worker_init', ...worker }),
    worker_exit: (worker) => record({ hook: 'worker_exit', ...worker }),
    on_reload: (server) => record({ hook: 'on_reload', workers: server.workers }),
    post_request: () => { throw new Error('post_request failed on purpose'); },
  `);
  const server = await startNodicorn(['--chdir', `${fixtures}python`, 'faults:application', '-w', '2'], {
    cwd: dir,
  });
  try {
    const booted = /Booted 2 workers \(pids (\d+), (\d+)\)/.exec(server.log())!;
    const pids = [Number(booted[1]), Number(booted[2])].sort();
    const inits = await until(() => {
      const e = events().filter((x) => x.hook === 'post_worker_init');
      return e.length === 2 ? e : undefined;
    });
    assert.deepEqual(inits.map((e) => e.pid).sort(), pids);
    assert.deepEqual(inits.map((e) => e.age).sort(), [1, 2]);
    // A worker that dies: worker_exit with how it exited, then its replacement's post_worker_init.
    assert.equal((await get(server.port, '/crash')).status, 502);
    const exit = await until(() => events().find((e) => e.hook === 'worker_exit'));
    assert.ok(pids.includes(exit.pid as number));
    assert.equal(exit.exitCode, 1);
    assert.equal(exit.signal, null);
    const replacement = await until(() => events().find((e) => e.hook === 'post_worker_init' && e.age === 3));
    assert.ok(!pids.includes(replacement.pid as number));
    await server.waitForLog(/Exception in post_request hook\nError: post_request failed on purpose/);
    assert.equal((await get(server.port, '/sleep/0')).status, 200);
    // SIGHUP: on_reload sees the workers being replaced.
    server.process.kill('SIGHUP');
    const reload = await until(() => events().find((e) => e.hook === 'on_reload'));
    assert.equal((reload.workers as number[]).length, 2);
    await server.waitForLog('Reloaded: workers now');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('on_starting that throws stops the start, as in Gunicorn', async () => {
  const { dir } = project(`on_starting: () => { throw new Error('not today'); },`);
  await assert.rejects(
    startNodicorn([`${repoRoot}dist/examples/echo.js:app`], { cwd: dir, timeoutMs: 10_000 }),
    /server exited \(1\)[\s\S]*\[CRITICAL\] on_starting hook failed; not starting\nError: not today/,
  );
});
