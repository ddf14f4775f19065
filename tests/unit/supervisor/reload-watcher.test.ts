/**
 * --reload's watcher: one watch per directory of the reported files, events filtered by name, bursts
 * debounced into one reload, watcher errors survived. Timing logic runs on a manual clock; the real-fs
 * tests only wait for the change they caused.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ReloadWatcher, type Timers, type WatchDir } from '../../../src/supervisor/reload-watcher.js';

/** A clock that moves only when told, with the timers due by then run in order. */
function manualTimers(): Timers & { advance(ms: number): void } {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++;
      due.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const [id, timer] = [...due].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
        if (id === undefined || timer === undefined || timer.at > until) break;
        due.delete(id);
        now = timer.at;
        timer.fn();
      }
      now = until;
    },
  };
}

class FakeDirWatcher extends EventEmitter {
  closed = false;
  constructor(readonly emitChange: (name: string | null) => void) {
    super();
  }
  close(): void {
    this.closed = true;
  }
}

/** fs.watch stand-in: records each directory watched and lets the test emit events in it. */
function fakeWatch(failFor: string[] = []) {
  const dirs = new Map<string, FakeDirWatcher>();
  const watch: WatchDir = (dir, listener) => {
    if (failFor.includes(dir)) throw new Error(`ENOENT: no such file or directory, watch '${dir}'`);
    const watcher = new FakeDirWatcher((name) => listener('change', name));
    dirs.set(dir, watcher);
    return watcher;
  };
  return { watch, dirs };
}

function setup(failFor: string[] = []) {
  const { watch, dirs } = fakeWatch(failFor);
  const timers = manualTimers();
  const reloads: string[][] = [];
  const warnings: string[] = [];
  const watcher = new ReloadWatcher({
    onChange: (files) => reloads.push([...files]),
    warn: (message) => warnings.push(message),
    debounceMs: 200,
    maxWaitMs: 1000,
    watch,
    timers,
  });
  return { watcher, dirs, timers, reloads, warnings };
}

test('one watch per directory of the reported files, not per file', () => {
  const { watcher, dirs } = setup();
  watcher.add(['/app/app.py', '/app/models.py', '/app/views/__init__.py', '/app/views/home.py']);
  watcher.add(['/app/app.py', '/lib/shared.py']); // a second worker reports the same files again
  assert.deepEqual([...dirs.keys()].sort(), ['/app', '/app/views', '/lib']);
  assert.equal(watcher.watching, 3);
  assert.equal(watcher.files, 5);
  watcher.close();
  for (const dir of dirs.values()) assert.ok(dir.closed);
});

test('only the watched names count: bytecode, editor swap files and neighbours do not reload', () => {
  const { watcher, dirs, timers, reloads } = setup();
  watcher.add(['/app/app.py']);
  for (const name of ['__pycache__', 'app.py.swp', '.#app.py', 'notes.txt', 'other.py', null])
    dirs.get('/app')!.emitChange(name);
  timers.advance(5000);
  assert.deepEqual(reloads, []);
});

test("an editor's several writes per save make one reload, naming each changed file once", () => {
  const { watcher, dirs, timers, reloads } = setup();
  watcher.add(['/app/app.py', '/app/models.py']);
  const app = dirs.get('/app')!;
  for (const name of ['app.py', 'app.py', 'models.py', 'app.py']) {
    app.emitChange(name);
    timers.advance(50);
  }
  assert.deepEqual(reloads, []); // still within 200 ms of the last write
  timers.advance(200);
  assert.deepEqual(reloads, [['/app/app.py', '/app/models.py']]);
  app.emitChange('app.py');
  timers.advance(200);
  assert.deepEqual(reloads, [['/app/app.py', '/app/models.py'], ['/app/app.py']]);
});

test('a file rewritten continuously still reloads after maxWaitMs', () => {
  const { watcher, dirs, timers, reloads } = setup();
  watcher.add(['/app/app.py']);
  for (let i = 0; i < 12; i++) {
    dirs.get('/app')!.emitChange('app.py');
    timers.advance(100);
  }
  assert.equal(reloads.length, 1);
});

test("a watcher's error is a warning: other directories keep working, and a new report watches again", () => {
  const { watcher, dirs, timers, reloads, warnings } = setup();
  watcher.add(['/app/app.py', '/lib/shared.py']);
  const app = dirs.get('/app')!;
  app.emit('error', new Error('EMFILE: too many open files'));
  assert.ok(app.closed);
  assert.match(warnings.join('\n'), /watching \/app failed: EMFILE/);
  assert.equal(watcher.watching, 1);
  dirs.get('/lib')!.emitChange('shared.py');
  timers.advance(200);
  assert.deepEqual(reloads, [['/lib/shared.py']]);
  watcher.add(['/app/app.py']); // the next generation's READY
  assert.notEqual(dirs.get('/app'), app);
  dirs.get('/app')!.emitChange('app.py');
  timers.advance(200);
  assert.deepEqual(reloads, [['/lib/shared.py'], ['/app/app.py']]);
});

test('a directory that cannot be watched is reported once, and the rest is watched', () => {
  const { watcher, warnings } = setup(['/gone']);
  watcher.add(['/gone/a.py', '/gone/b.py', '/app/app.py']);
  watcher.add(['/gone/a.py']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /cannot watch \/gone: ENOENT/);
  assert.equal(watcher.watching, 1);
});

test('nothing is reported after close()', () => {
  const { watcher, dirs, timers, reloads } = setup();
  watcher.add(['/app/app.py']);
  dirs.get('/app')!.emitChange('app.py');
  watcher.close();
  timers.advance(1000);
  assert.deepEqual(reloads, []);
});

/**
 * The real fs.watch: resolves with the first reload. Its watches and timer do not keep Node alive (the
 * server's sockets do), so the deadline here also holds the event loop open while the test waits.
 */
function realWatcher(files: string[]): { watcher: ReloadWatcher; reloaded: Promise<readonly string[]> } {
  let watcher!: ReloadWatcher;
  let deadline: NodeJS.Timeout | undefined;
  const reloaded = new Promise<readonly string[]>((resolve, reject) => {
    deadline = setTimeout(() => reject(new Error('no reload within 10 s')), 10_000);
    watcher = new ReloadWatcher({ onChange: resolve, warn: (m) => reject(new Error(m)), debounceMs: 20 });
  }).finally(() => clearTimeout(deadline));
  watcher.add(files);
  return { watcher, reloaded };
}

test('real fs: an atomic save (write a temporary file, rename it over the source) reloads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-watch-'));
  const app = join(dir, 'app.py');
  writeFileSync(app, 'v = 1\n');
  const { watcher, reloaded } = realWatcher([app]);
  try {
    writeFileSync(join(dir, '.app.py.tmp'), 'v = 2\n');
    renameSync(join(dir, '.app.py.tmp'), app);
    assert.deepEqual(await reloaded, [app]);
  } finally {
    watcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real fs: 2,000 files beside the app (a .venv, node_modules) cost no watch; the app costs one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-watch-'));
  for (const sub of ['.venv/lib/site-packages/pkg', 'node_modules/pkg']) {
    mkdirSync(join(dir, sub), { recursive: true });
    for (let i = 0; i < 1000; i++) writeFileSync(join(dir, sub, `m${i}.py`), '');
  }
  const app = join(dir, 'app.py');
  writeFileSync(app, 'v = 1\n');
  const { watcher, reloaded } = realWatcher([app]);
  try {
    assert.equal(watcher.watching, 1);
    writeFileSync(join(dir, 'node_modules/pkg/m1.py'), 'x = 1\n'); // not watched: no reload from it
    writeFileSync(app, 'v = 2\n');
    assert.deepEqual(await reloaded, [app]);
  } finally {
    watcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
