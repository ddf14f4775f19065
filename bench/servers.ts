/**
 * The servers the bench compares and how each is started for an app: nodicorn (Python workers, or a
 * TypeScript app in-process), Gunicorn sync and gthread, uWSGI with its HTTP socket, Waitress, and the
 * ceiling (bare node:http). Every server gets the same app file and the same worker and thread counts.
 * A server is a command line plus what it needs that the bench will not install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from './processes.js';

/** The repository root (this file runs as dist/bench/servers.js). */
export const repo = fileURLToPath(new URL('../../', import.meta.url));
/** Debian's interpreter: the one python3-flask, python3-django, gunicorn and uwsgi's plugin are for. */
export const PYTHON = '/usr/bin/python3';

/** Something a server needs that the bench will not install: how to tell, and what to run. */
export interface Requirement {
  readonly what: string;
  readonly install: string;
  present(): boolean;
}

/**
 * `nodicorn` is measured; the others are compared with it. Ratios are reported against every server, and
 * called out against the `baseline` (Gunicorn sync, what users move from), the `ceiling` and the
 * `reference` (nodicorn built from another git ref, `--baseline REF`). A `variant` is nodicorn itself with
 * another setting than its default (`--fronts 2`), measured beside it.
 */
export type Role = 'nodicorn' | 'reference' | 'variant' | 'peer' | 'baseline' | 'ceiling';

/** nodicorn built from another git ref (bench/baseline.ts): where its tree is, and what to call it. */
export interface NodicornBuild {
  /** The git ref as given (`main`, `HEAD~3`, a sha). */
  readonly ref: string;
  readonly sha: string;
  /** The root of its tree, with `/` at the end (its bin/nodicorn.js and dist/ are there). */
  readonly dir: string;
}

export interface ServerSpec {
  readonly name: string;
  readonly role: Role;
  command(port: number): Command;
  readonly needs: readonly Requirement[];
  /** One line naming what runs (recorded in the JSON). */
  version(): string;
}

/** A WSGI app as every Python server loads it: `module:attr` importable from `dir`. */
export interface PythonApp {
  readonly dir: string;
  readonly module: string;
  readonly attr: string;
  readonly needs: readonly Requirement[];
}

export interface Concurrency {
  /** Worker processes (Waitress, which has none, gets workers × threads threads). */
  readonly workers: number;
  /** Threads per worker. */
  readonly threads: number;
}

const firstLine = (cmd: string, args: string[]): string => {
  const run = spawnSync(cmd, args, { encoding: 'utf8' });
  if (run.error !== undefined) return `unavailable (${run.error.message})`;
  return `${run.stdout}${run.stderr}`.trim().split('\n')[0]!.trim();
};

const pythonVersion = () => firstLine(PYTHON, ['--version']);
const moduleVersion = (module: string) =>
  `${module} ${firstLine(PYTHON, ['-c', `import importlib.metadata as m; print(m.version('${module}'))`])} on ${pythonVersion()}`;

export const built = (file: string): Requirement => ({
  what: file,
  install: 'npm run build',
  present: () => existsSync(`${repo}${file}`),
});

export const pythonModule = (module: string, debianPackage: string): Requirement => ({
  what: `Python module ${module} for ${PYTHON}`,
  install: `apt-get install -y ${debianPackage}`,
  present: () => spawnSync(PYTHON, ['-c', `import ${module}`]).status === 0,
});

const uwsgiPython: Requirement = {
  what: 'uwsgi with its python3 plugin',
  install: 'apt-get install -y uwsgi uwsgi-plugin-python3',
  present: () => spawnSync('uwsgi', ['--plugin', 'python3', '--version']).status === 0,
};

const nodicornVersion = (): string => {
  const pkg = JSON.parse(readFileSync(`${repo}package.json`, 'utf8')) as { version: string };
  return `nodicorn ${pkg.version} on node ${process.version}`;
};

const NODICORN = [built('dist/src/cli/main.js')];
/** The app paths stay relative to this tree (`--chdir bench/apps`), so a baseline build runs the same app. */
const nodicornCommand =
  (args: string[], at?: NodicornBuild) =>
  (port: number): Command => ({
    cmd: process.execPath,
    args: [`${at?.dir ?? repo}bin/nodicorn.js`, ...args, '-b', `127.0.0.1:${port}`, '--log-level', 'warning'],
    cwd: repo,
  });

const builtAt = (at: NodicornBuild, file: string): Requirement => ({
  what: `${at.dir}${file} (nodicorn@${at.ref})`,
  install: `npm run bench -- --baseline ${at.ref} builds it`,
  present: () => existsSync(`${at.dir}${file}`),
});

const versionAt = (at: NodicornBuild) => (): string => {
  const pkg = JSON.parse(readFileSync(`${at.dir}package.json`, 'utf8')) as { version: string };
  return `nodicorn ${pkg.version} at ${at.ref} (${at.sha}) on node ${process.version}`;
};

/** `--fronts N` as a variant's flags and name; none for nodicorn as it runs by default (`--fronts auto`). */
const frontsFlag = (fronts: number | undefined) => (fronts === undefined ? [] : ['--fronts', String(fronts)]);
const frontsName = (fronts: number | undefined) => (fronts === undefined ? '' : ` --fronts ${fronts}`);

/**
 * nodicorn serving a Python app from worker processes, run as a user runs it; with `at`, the nodicorn
 * built from another git ref, same app and flags (role `reference`); with `fronts`, this nodicorn with
 * that many front processes (role `variant`).
 */
export function nodicornPython(
  app: PythonApp,
  c: Concurrency,
  at?: NodicornBuild,
  fronts?: number,
): ServerSpec {
  return {
    name: `nodicorn${at === undefined ? '' : `@${at.ref}`} -w ${c.workers}${c.threads > 1 ? ` --threads ${c.threads}` : ''}${frontsName(fronts)}`,
    role: at !== undefined ? 'reference' : fronts !== undefined ? 'variant' : 'nodicorn',
    command: nodicornCommand(
      [
        '--chdir',
        app.dir,
        `${app.module}:${app.attr}`,
        '-w',
        String(c.workers),
        '--threads',
        String(c.threads),
        '--python',
        PYTHON,
        ...frontsFlag(fronts),
      ],
      at,
    ),
    needs:
      at === undefined ? [...NODICORN, ...app.needs] : [builtAt(at, 'dist/src/cli/main.js'), ...app.needs],
    version: () => `${at === undefined ? nodicornVersion() : versionAt(at)()}, ${pythonVersion()}`,
  };
}

/**
 * nodicorn serving a TypeScript app in-process (compiled, so no loader runs in the measurement); with
 * `at`, the nodicorn built from another git ref serving that build's own compiled `file`.
 */
export function nodicornTypeScript(file: string, at?: NodicornBuild, fronts?: number): ServerSpec {
  if (at === undefined)
    return {
      name: `nodicorn (TypeScript app)${frontsName(fronts)}`,
      role: fronts === undefined ? 'nodicorn' : 'variant',
      command: nodicornCommand([`${file}:app`, ...frontsFlag(fronts)]),
      needs: [...NODICORN, built(file)],
      version: nodicornVersion,
    };
  return {
    name: `nodicorn@${at.ref} (TypeScript app)`,
    role: 'reference',
    command: nodicornCommand([`${at.dir}${file}:app`], at),
    needs: [builtAt(at, 'dist/src/cli/main.js'), builtAt(at, file)],
    version: versionAt(at),
  };
}

/** The ceiling: node:http answering the same bytes with nothing in between. */
export const ceiling: ServerSpec = {
  name: 'bare node:http',
  role: 'ceiling',
  command: (port) => ({
    cmd: process.execPath,
    args: [`${repo}dist/bench/apps/bare-node.js`, String(port)],
    cwd: repo,
  }),
  needs: [built('dist/bench/apps/bare-node.js')],
  version: () => `node ${process.version}`,
};

export function gunicorn(kind: 'sync' | 'gthread', app: PythonApp, c: Concurrency): ServerSpec {
  const threads = kind === 'gthread' ? ['--threads', String(c.threads)] : [];
  return {
    name: `gunicorn ${kind} -w ${c.workers}${kind === 'gthread' ? ` --threads ${c.threads}` : ''}`,
    role: kind === 'sync' ? 'baseline' : 'peer',
    command: (port) => ({
      cmd: PYTHON,
      args: ['-m', 'gunicorn', '--chdir', app.dir, '-k', kind, '-w', String(c.workers), ...threads].concat([
        '-b',
        `127.0.0.1:${port}`,
        '--log-level',
        'warning',
        `${app.module}:${app.attr}`,
      ]),
      cwd: repo,
    }),
    needs: [pythonModule('gunicorn', 'gunicorn'), ...app.needs],
    version: () => moduleVersion('gunicorn'),
  };
}

/** uWSGI parsing HTTP itself in its workers (`--http-socket`, no router process in between). */
export function uwsgi(app: PythonApp, c: Concurrency): ServerSpec {
  const threads = c.threads > 1 ? ['--threads', String(c.threads)] : [];
  return {
    name: `uwsgi --http-socket -p ${c.workers}${c.threads > 1 ? ` --threads ${c.threads}` : ''}`,
    role: 'peer',
    command: (port) => ({
      cmd: 'uwsgi',
      args: [
        '--plugin',
        'python3',
        '--http-socket',
        `127.0.0.1:${port}`,
        '--master',
        '--processes',
        String(c.workers),
        ...threads,
        '--chdir',
        `${repo}${app.dir}`,
        '--module',
        `${app.module}:${app.attr}`,
        '--need-app',
        '--die-on-term', // uWSGI 2.0 reloads on SIGTERM otherwise
        '--disable-logging',
        '--listen',
        '1024',
      ],
      cwd: repo,
    }),
    needs: [uwsgiPython, ...app.needs],
    version: () => `uwsgi ${firstLine('uwsgi', ['--version'])} on ${pythonVersion()}`,
  };
}

/** Waitress: one process, so it gets as many threads as the others have workers × threads. */
export function waitress(app: PythonApp, c: Concurrency): ServerSpec {
  const threads = c.workers * c.threads;
  return {
    name: `waitress --threads ${threads}`,
    role: 'peer',
    command: (port) => ({
      cmd: PYTHON,
      args: [
        '-m',
        'waitress',
        `--listen=127.0.0.1:${port}`,
        `--threads=${threads}`,
        '--backlog=1024',
        `${app.module}:${app.attr}`,
      ],
      cwd: `${repo}${app.dir}`,
    }),
    needs: [pythonModule('waitress', 'python3-waitress'), ...app.needs],
    version: () => moduleVersion('waitress'),
  };
}

/**
 * Every server for a Python app: nodicorn first, then nodicorn built from `at` if given (so the two run
 * back to back in every round), nodicorn with `fronts` front processes if given, the baseline, the peers
 * and the ceiling.
 */
export function pythonServers(
  app: PythonApp,
  c: Concurrency,
  at?: NodicornBuild,
  fronts?: number,
): [ServerSpec, ...ServerSpec[]] {
  return [
    nodicornPython(app, c),
    ...(at === undefined ? [] : [nodicornPython(app, c, at)]),
    ...(fronts === undefined ? [] : [nodicornPython(app, c, undefined, fronts)]),
    gunicorn('sync', app, c),
    gunicorn('gthread', app, c),
    uwsgi(app, c),
    waitress(app, c),
    ceiling,
  ];
}
