/** Loads a TypeScript/JavaScript WSGI app from a file. `.ts` needs a loader on Node 20: tsx registers one. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WsgiApp } from '../contract/types.js';
import { AppLoadError } from '../errors/registry.js';
import { isTypeScriptFile } from '../settings/app-ref.js';

export async function loadTypeScriptApp(file: string, attr: string | null, cwd: string): Promise<WsgiApp> {
  const path = resolve(cwd, file);
  if (isTypeScriptFile(path)) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new AppLoadError(
      `cannot load ${file}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  const names = attr === null ? ['default', 'app', 'application'] : [attr];
  for (const name of names) {
    const value = module[name];
    if (typeof value === 'function') return value as WsgiApp;
    if (value !== undefined)
      throw new AppLoadError(`${file}: export ${JSON.stringify(name)} is not a function`);
  }
  throw new AppLoadError(
    `${file} exports no ${names.map((n) => JSON.stringify(n)).join(' or ')} application`,
  );
}
