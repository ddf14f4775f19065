/**
 * Config files: `nodicorn.config.json`, or a module (`.mjs`, `.js`, `.ts`) whose default export is the
 * settings object, or a function returning it. Keys are the setting keys of docs/settings.md; a module
 * may give server hooks (functions). A Gunicorn config file (`gunicorn.conf.py`, any `.py`, `file:PATH`,
 * `python:MODULE`) is read with Python, by the step the caller hands in (`context.readGunicornConf`), and
 * mapped through the Gunicorn table (gunicorn-conf.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ConfigContext, ConfigFile } from './config-types.js';
import { gunicornConfFile, isGunicornConf } from './gunicorn-conf.js';
import { importModuleFile } from './load-module.js';
import { SettingError } from './registry.js';

export const CONFIG_NAMES = [
  'nodicorn.config.json',
  'nodicorn.config.mjs',
  'nodicorn.config.js',
  'nodicorn.config.ts',
];

/** Gunicorn's default config file, read when no nodicorn config file is there. */
export const GUNICORN_CONFIG_NAME = 'gunicorn.conf.py';

/**
 * The config file to read: the one named (python:MODULE as it is), else the first default name present in
 * `cwd` (a nodicorn one first, then Gunicorn's), else none.
 */
export function findConfigFile(named: string, cwd: string): string | null {
  if (named.startsWith('python:')) return named;
  if (named !== '') return resolve(cwd, named.startsWith('file:') ? named.slice(5) : named);
  for (const name of [...CONFIG_NAMES, GUNICORN_CONFIG_NAME]) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

export async function loadConfigFile(path: string, context?: ConfigContext): Promise<ConfigFile> {
  if (isGunicornConf(path)) {
    if (context === undefined)
      throw new SettingError(`${path}: a Gunicorn config file needs Python to be read`);
    return gunicornConfFile(path, context.cwd, await context.readGunicornConf(path, context));
  }
  let values: unknown;
  try {
    if (path.endsWith('.json')) values = JSON.parse(readFileSync(path, 'utf8'));
    else {
      const module = await importModuleFile(path, basename(path));
      values =
        typeof module.default === 'function' ? await (module.default as () => unknown)() : module.default;
    }
  } catch (error) {
    throw new SettingError(
      `cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new SettingError(`config file ${path} must hold (or export as default) an object of settings`);
  }
  return { path, values: values as Record<string, unknown> };
}
