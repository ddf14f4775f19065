/**
 * --reload's watcher: the files the workers report having imported (READY's `files`) plus
 * --reload-extra-file, watched the way Gunicorn's inotify reloader does it: one non-recursive fs.watch
 * per parent directory, events filtered by file name. So the cost is one inotify watch per directory of
 * the app's own code, whatever lies beside it (.venv, node_modules, __pycache__ are never walked), and an
 * editor's atomic save (write a temporary file, rename it over the old one) is seen as a change of the
 * name it replaces.
 *
 * Editors write a file several times per save: changes are debounced into one call of `onChange`, which
 * is a reload; the supervisor policy coalesces a reload with a generation still importing (the newest
 * generation replaces everything older), so saves made during a slow import end with one generation.
 *
 * A watcher's 'error' (a directory removed, a watch limit reached) costs that directory's watch and a
 * warning, never the server: the directory is watched again when a worker next reports files in it.
 */
import { watch as fsWatch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** What fs.watch returns, as far as this file uses it. */
export interface DirWatcher {
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
}

export type WatchDir = (
  dir: string,
  listener: (event: string, name: string | Buffer | null) => void,
) => DirWatcher;

/** The clock and timer the debounce uses (tests pass a manual one). */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ReloadWatcherOptions {
  /** Called once per burst of changes with the files that changed (absolute paths, in order seen). */
  readonly onChange: (files: readonly string[]) => void;
  readonly warn: (message: string) => void;
  /** Quiet time after the last change before `onChange` (editors write a save in several steps). */
  readonly debounceMs?: number;
  /** Longest a burst of changes may postpone `onChange` (a file rewritten continuously still reloads). */
  readonly maxWaitMs?: number;
  readonly watch?: WatchDir;
  readonly timers?: Timers;
}

export const DEBOUNCE_MS = 200;
export const MAX_WAIT_MS = 1000;

const defaultWatch: WatchDir = (dir, listener) => fsWatch(dir, { persistent: false }, listener);

const defaultTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Directory {
  /** null: the directory could not be watched (it was reported once, not again). */
  watcher: DirWatcher | null;
  readonly names: Set<string>;
}

export class ReloadWatcher {
  readonly #options: ReloadWatcherOptions;
  readonly #watch: WatchDir;
  readonly #timers: Timers;
  readonly #dirs = new Map<string, Directory>();
  /** Changed files not yet reported, and when the first of them changed. */
  readonly #changed = new Set<string>();
  #since = 0;
  #timer: unknown = null;
  #closed = false;

  constructor(options: ReloadWatcherOptions) {
    this.#options = options;
    this.#watch = options.watch ?? defaultWatch;
    this.#timers = options.timers ?? defaultTimers;
  }

  /** Directories watched right now (one inotify watch each on Linux). */
  get watching(): number {
    let n = 0;
    for (const dir of this.#dirs.values()) if (dir.watcher !== null) n++;
    return n;
  }

  /** Files watched (whether or not their directory could be). */
  get files(): number {
    let n = 0;
    for (const dir of this.#dirs.values()) n += dir.names.size;
    return n;
  }

  /** Watches these files too (absolute, or relative to the current directory). */
  add(files: Iterable<string>): void {
    if (this.#closed) return;
    for (const file of files) {
      const path = resolve(file);
      const dir = dirname(path);
      let entry = this.#dirs.get(dir);
      if (entry === undefined) {
        entry = { watcher: null, names: new Set() };
        this.#dirs.set(dir, entry);
        entry.watcher = this.#open(dir, entry);
      }
      entry.names.add(basename(path));
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    for (const entry of this.#dirs.values()) entry.watcher?.close();
    this.#dirs.clear();
  }

  #open(dir: string, entry: Directory): DirWatcher | null {
    let watcher: DirWatcher;
    try {
      watcher = this.#watch(dir, (_event, name) => {
        // Linux always names the entry; without a name there is nothing to match against.
        if (name === null) return;
        const file = String(name);
        if (entry.names.has(file)) this.#changedFile(resolve(dir, file));
      });
    } catch (error) {
      this.#options.warn(`--reload: cannot watch ${dir}: ${describe(error)}`);
      return null;
    }
    watcher.on('error', (error) => {
      this.#options.warn(
        `--reload: watching ${dir} failed: ${describe(error)}; its files are no longer watched`,
      );
      watcher.close();
      if (this.#dirs.get(dir) === entry) this.#dirs.delete(dir);
    });
    return watcher;
  }

  #changedFile(path: string): void {
    if (this.#closed) return;
    const now = this.#timers.now();
    if (this.#changed.size === 0) this.#since = now;
    this.#changed.add(path);
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    const debounce = this.#options.debounceMs ?? DEBOUNCE_MS;
    const maxWait = this.#options.maxWaitMs ?? MAX_WAIT_MS;
    const delay = Math.max(0, Math.min(debounce, this.#since + maxWait - now));
    this.#timer = this.#timers.setTimeout(() => this.#fire(), delay);
  }

  #fire(): void {
    this.#timer = null;
    const files = [...this.#changed];
    this.#changed.clear();
    if (files.length > 0 && !this.#closed) this.#options.onChange(files);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
