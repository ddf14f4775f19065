/**
 * What config files are read into, shared by config-file.ts (which reads them), gunicorn-conf.ts (which
 * maps a Gunicorn file's names) and resolve.ts (which applies them): types only, so none of the three
 * imports another for its types.
 */

/** Settings read from a config file: its path (for messages) and its key/value pairs. */
export interface ConfigFile {
  readonly path: string;
  readonly values: Readonly<Record<string, unknown>>;
  /** A Gunicorn config file's Python hooks, which run in the workers. */
  readonly workerHooks?: WorkerHooks;
  /** What reading the file printed (a Gunicorn config file's print()s), to show to the user. */
  readonly output?: string;
}

/** Python hooks of a Gunicorn config file: the workers load the file again and run them. */
export interface WorkerHooks {
  /** The file (absolute) or python:MODULE. */
  readonly location: string;
  /** The directory the file was read in (Gunicorn reads it before --chdir applies). */
  readonly cwd: string;
  readonly names: readonly string[];
}

/** One public name of a Gunicorn config file, as python/nodicorn_worker/gunicorn_conf.py describes it. */
export type ConfName =
  | { readonly value: unknown }
  | { readonly callable: 'function' | 'class'; readonly here: boolean; readonly arity: number }
  | { readonly object: string; readonly here: boolean };

/** What the Python interpreter for a Gunicorn config file is, and where it runs. */
export interface PythonContext {
  /** --python / NODICORN_PYTHON ('' to discover it as the workers would). */
  readonly python: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** What Python made of a Gunicorn config file: its public names, and what executing it printed. */
export interface GunicornConfNames {
  readonly names: Readonly<Record<string, ConfName>>;
  /** The file's own output (stderr), '' when none. */
  readonly output: string;
}

/**
 * Executes a Gunicorn config file with Python and describes its names. Settings only map names; running
 * Python is the bridge's (src/bridge/read-gunicorn-conf.ts), and the CLI hands it in.
 */
export type ReadGunicornConf = (location: string, context: PythonContext) => Promise<GunicornConfNames>;

/** How config files are read: where, and with which step for the Gunicorn ones. */
export interface ConfigContext extends PythonContext {
  readonly readGunicornConf: ReadGunicornConf;
}
