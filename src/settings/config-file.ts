/**
 * Config files: `nodicorn.config.json`, or a module (`.mjs`, `.js`, `.ts`) whose default export is the
 * settings object, or a function returning it. Keys are the setting keys of docs/settings.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SettingError } from './registry.js';
import type { ConfigFile } from './resolve.js';

export const CONFIG_NAMES = [
  'nodicorn.config.json',
  'nodicorn.config.mjs',
  'nodicorn.config.js',
  'nodicorn.config.ts',
];

/** The config file to read: the one named, else the first default name present in `cwd`, else none. */
export function findConfigFile(named: string, cwd: string): string | null {
  if (named !== '') return resolve(cwd, named);
  for (const name of CONFIG_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

export async function loadConfigFile(path: string): Promise<ConfigFile> {
  let values: unknown;
  try {
    if (path.endsWith('.json')) values = JSON.parse(readFileSync(path, 'utf8'));
    else {
      if (/\.(ts|mts|cts)$/.test(path)) (await import('tsx/esm/api')).register();
      const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
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
