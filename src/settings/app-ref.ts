/**
 * The application reference on the command line, as Gunicorn reads it: `MODULE[:ATTR]`, where ATTR may
 * be a call (`create_app()`, `create_app('prod')`). A MODULE that is a JavaScript/TypeScript file
 * (`./app.ts`, `dist/app.js`) names a TypeScript app served in-process; anything else is a Python module.
 * It is the value of the `wsgi_app` setting, read by the CLI, the Python backend and the Node adapter alike.
 */
import { SettingError } from './registry.js';

export type AppRef =
  | { readonly kind: 'typescript'; readonly file: string; readonly attr: string | null }
  | { readonly kind: 'python'; readonly module: string; readonly attr: string };

const SCRIPT_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;

export function parseAppRef(text: string): AppRef {
  const colon = text.indexOf(':');
  const module = colon === -1 ? text : text.slice(0, colon);
  const attr = colon === -1 ? null : text.slice(colon + 1);
  if (module === '') throw new SettingError(`application ${JSON.stringify(text)}: no module`);
  if (attr === '') throw new SettingError(`application ${JSON.stringify(text)}: nothing after ':'`);
  if (SCRIPT_FILE.test(module)) return { kind: 'typescript', file: module, attr };
  if (!/^[A-Za-z_][\w.]*$/.test(module)) {
    throw new SettingError(
      `application ${JSON.stringify(text)}: ${JSON.stringify(module)} is not a Python module name`,
    );
  }
  // Gunicorn's default attribute name.
  return { kind: 'python', module, attr: attr ?? 'application' };
}
