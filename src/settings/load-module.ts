/**
 * Imports a JavaScript or TypeScript file given on the command line: a config module or a TypeScript WSGI
 * app, in a CommonJS package as well as in an ES-module one.
 *
 * Node 20 cannot strip types, so `.ts`/`.mts`/`.cts` go through tsx, an optional peer dependency: the
 * user installs it next to nodicorn, and a Python-only install carries no esbuild. tsx is registered once
 * per process, for both module systems: Node decides by the nearest package.json whether a `.ts` file is
 * CommonJS, and a TypeScript file written with `import`/`export` in a CommonJS package is then compiled to
 * CommonJS by tsx's require hook (registering only the ES-module hook fails with ERR_REQUIRE_CYCLE_MODULE).
 * JavaScript files are imported as Node imports them; when their syntax contradicts their module kind,
 * the error says what to change.
 */
import { pathToFileURL } from 'node:url';

const TYPESCRIPT_FILE = /\.(ts|mts|cts)$/;

/** A file that cannot be imported, for a reason the message states completely (no stack to add). */
export class ModuleFileError extends Error {
  override readonly name = 'ModuleFileError';
}

let typeScript: Promise<void> | undefined;

/** Registers tsx's hooks on the first call (none when tsx is absent and Node strips types itself). */
function registerTypeScript(file: string): Promise<void> {
  typeScript ??= (async () => {
    let apis: [typeof import('tsx/esm/api'), typeof import('tsx/cjs/api')];
    try {
      apis = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
      if (!missing || !(error as Error).message.includes("'tsx'")) throw error;
      // Node ≥ 22.18 (and 23.6) runs erasable TypeScript natively; Node 20 does not.
      if ((process.features as { typescript?: unknown }).typescript) return;
      typeScript = undefined;
      throw new ModuleFileError(
        `${file} is TypeScript: install tsx (npm install --save-dev tsx) or compile it to JavaScript`,
      );
    }
    apis[0].register();
    apis[1].register();
  })();
  return typeScript;
}

/**
 * What to change when the syntax of `path` is not the module kind Node gives it, else null (also when the
 * error comes from another file, which the stack then names).
 */
function moduleKindHint(path: string, file: string, error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const stack = error.stack ?? '';
  if (!stack.includes(path) && !stack.includes(pathToFileURL(path).href)) return null;
  const esmScope = /^(require|module|exports|__dirname|__filename) is not defined in ES module scope/.exec(
    error.message,
  );
  if (error instanceof ReferenceError && esmScope !== null) {
    const why = /\.m[jt]s$/.test(path)
      ? 'it is an ES module'
      : 'it is an ES module (the nearest package.json says "type": "module")';
    const commonJs = TYPESCRIPT_FILE.test(path) ? '.cts' : '.cjs';
    return `${esmScope[1]} is not defined in ${file}: ${why}; use import/export and import.meta, or name it ${commonJs}`;
  }
  if (
    error instanceof SyntaxError &&
    /Cannot use import statement outside a module|Unexpected token 'export'/.test(error.message)
  ) {
    return path.endsWith('.cjs')
      ? `${file} uses import/export, but a .cjs file is CommonJS: name it .mjs`
      : `${file} uses import/export, but it is CommonJS (the nearest package.json has no "type": "module"): name it .mjs, or set "type": "module" in package.json`;
  }
  return null;
}

/** The module namespace of `path` (absolute); `file` is how the user named it, for messages. */
export async function importModuleFile(path: string, file: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT_FILE.test(path)) await registerTypeScript(file);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const hint = moduleKindHint(path, file, error);
    if (hint !== null) throw new ModuleFileError(hint);
    throw error;
  }
  // CommonJS compiled from import/export (by tsx's require hook, or by tsc) marks its exports object
  // `__esModule`: that object is the namespace the author wrote (its `default` the default export), and
  // Node, reading names from the uncompiled source, may have found none of them.
  const exports = namespace.default as { __esModule?: unknown } | null | undefined;
  if (typeof exports === 'object' && exports !== null && exports.__esModule === true)
    return exports as Record<string, unknown>;
  return namespace;
}
