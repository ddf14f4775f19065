/**
 * Reading a Gunicorn config file (`gunicorn.conf.py`): Python executes it (so `workers =
 * multiprocessing.cpu_count() * 2 + 1` works) with the interpreter the workers would use and prints its
 * public names as JSON (src/bridge/read-gunicorn-conf.ts, handed in by the CLI); here each name is mapped
 * through the Gunicorn table (gunicorn.ts), without I/O. Unlike Gunicorn, which ignores names it does not
 * know, nodicorn refuses them, and refuses the settings it cannot honour: a setting that silently does
 * nothing is worse than an error.
 * Hooks that run inside a Python worker are kept for the workers, which load the file themselves.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigFile, ConfName, GunicornConfNames, WorkerHooks } from './config-types.js';
import { SETTINGS, type SettingName } from './definitions.js';
import { GUNICORN_SETTINGS } from './gunicorn.js';
import { closest, isConfigOnly, type Setting, SettingError } from './registry.js';

export function isGunicornConf(location: string): boolean {
  return location.endsWith('.py') || location.startsWith('python:');
}

/** The arguments each worker hook is called with (Gunicorn's); post_request may take fewer, as there. */
const WORKER_HOOK_ARGS: Readonly<Record<string, readonly string[]>> = {
  post_fork: ['server', 'worker'],
  post_worker_init: ['worker'],
  worker_abort: ['worker'],
  pre_request: ['worker', 'req'],
  post_request: ['worker', 'req', 'environ', 'resp'],
  worker_exit: ['server', 'worker'],
};

function arityProblem(name: string, arity: number): string | null {
  const args = WORKER_HOOK_ARGS[name]!;
  const fits = name === 'post_request' ? arity >= 2 && arity <= 4 : arity === args.length;
  if (arity === -1 || fits) return null;
  const count = args.length === 1 ? 'one argument' : `${args.length} arguments`;
  return `${name}: must take ${count} (${args.join(', ')}), takes ${arity}`;
}

/** What the names of a Gunicorn config file become: nodicorn settings, and Python hooks for the workers. */
export interface MappedConf {
  readonly values: Record<string, unknown>;
  readonly hooks: string[];
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Maps the names of a Gunicorn config file; every problem is reported at once, one line each. */
export function mapGunicornNames(where: string, names: Readonly<Record<string, ConfName>>): MappedConf {
  const values: Record<string, unknown> = {};
  const hooks: string[] = [];
  const errors: string[] = [];
  for (const [name, described] of Object.entries(names)) {
    // Gunicorn too ignores `config` inside a config file.
    if (name === 'config') continue;
    const entry = GUNICORN_SETTINGS[name];
    if (entry === undefined) {
      // Imported names (from os import environ, from multiprocessing import cpu_count) are not settings.
      if ('here' in described && !described.here) continue;
      const hint = closest(name, Object.keys(GUNICORN_SETTINGS));
      errors.push(
        `${name}: not a Gunicorn setting${hint ? ` (did you mean ${hint}?)` : ''}; Gunicorn ignores such names, nodicorn refuses them so that a misspelt setting is not lost: start a helper's name with _`,
      );
      continue;
    }
    const setting =
      entry.key === undefined ? undefined : (SETTINGS[entry.key as SettingName] as Setting<unknown>);
    const why = entry.note === undefined ? '' : `: ${entry.note}`;
    if ('callable' in described) {
      if (entry.status === 'worker hook' || entry.workerHook === true) {
        const problem = arityProblem(name, described.arity);
        if (problem === null) hooks.push(name);
        else errors.push(problem);
      } else if (setting !== undefined && isConfigOnly(setting))
        errors.push(
          `${name}: a hook of Gunicorn's master process, which is Node in nodicorn and cannot run Python; write it in nodicorn.config.mjs${why.replace(/^: In nodicorn\.config\.mjs,?/, '')}`,
        );
      else if (entry.key === undefined && entry.flags === '')
        errors.push(`${name}: this hook is ${entry.status} in nodicorn${why}`);
      else errors.push(`${name}: expected a value, got a ${described.callable}`);
      continue;
    }
    if ('object' in described) {
      errors.push(`${name}: a ${described.object} object; nodicorn needs a plain value (text, number, list)`);
      continue;
    }
    const value = described.value;
    switch (entry.status) {
      case 'mapped':
        // None is Gunicorn's "not set": the default stays.
        if (value === null) break;
        if (setting !== undefined && isConfigOnly(setting)) errors.push(`${name}: expected a function`);
        else values[entry.key!] = value;
        break;
      case 'worker hook':
        errors.push(`${name}: expected a function`);
        break;
      default: {
        const harmless = entry.harmless;
        if (harmless === 'any' || harmless?.some((h) => isDeepStrictEqual(h, value)) === true) break;
        errors.push(`${name} = ${show(value)}: ${entry.status} in nodicorn${why}`);
      }
    }
  }
  if (errors.length > 0) throw new SettingError(`${where}:\n  ${errors.join('\n  ')}`);
  return { values, hooks };
}

/** The config file a Gunicorn config file amounts to, from the names Python found in it. */
export function gunicornConfFile(location: string, cwd: string, read: GunicornConfNames): ConfigFile {
  const mapped = mapGunicornNames(location, read.names);
  const workerHooks: WorkerHooks | undefined =
    mapped.hooks.length === 0 ? undefined : { location, cwd, names: mapped.hooks };
  return {
    path: location,
    values: mapped.values,
    ...(workerHooks === undefined ? {} : { workerHooks }),
    ...(read.output === '' ? {} : { output: read.output }),
  };
}
