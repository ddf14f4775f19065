/** Loads a TypeScript/JavaScript WSGI app from a file (`.ts` through tsx: settings/load-module.ts). */
import { resolve } from 'node:path';
import type { WsgiApp } from '../contract/types.js';
import { AppLoadError } from '../errors/registry.js';
import { importModuleFile, ModuleFileError } from '../settings/load-module.js';

export async function loadTypeScriptApp(file: string, attr: string | null, cwd: string): Promise<WsgiApp> {
  let module: Record<string, unknown>;
  try {
    module = await importModuleFile(resolve(cwd, file), file);
  } catch (error) {
    if (error instanceof ModuleFileError) throw new AppLoadError(error.message);
    throw new AppLoadError(
      `cannot load ${file}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  const names = attr === null ? ['default', 'app', 'application'] : [attr];
  // A CommonJS module's exports object is its default export; Node also lists the names it can find in
  // the source, and a file tsx compiled hides them.
  const exports =
    typeof module.default === 'object' && module.default !== null
      ? (module.default as Record<string, unknown>)
      : undefined;
  for (const name of names) {
    const value =
      name === 'default' && exports !== undefined ? exports.default : (module[name] ?? exports?.[name]);
    if (typeof value === 'function') return value as WsgiApp;
    if (value !== undefined)
      throw new AppLoadError(`${file}: export ${JSON.stringify(name)} is not a function`);
  }
  throw new AppLoadError(
    `${file} exports no ${names.map((n) => JSON.stringify(n)).join(' or ')} application`,
  );
}
