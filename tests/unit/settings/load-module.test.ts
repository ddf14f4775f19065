import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigFile } from '../../../src/settings/config-file.js';
import { importModuleFile } from '../../../src/settings/load-module.js';
import { packageDir } from '../../helpers/packages.js';

const load = (dir: string, file: string) => importModuleFile(join(dir, file), file);

// First in this file: once a TypeScript file has registered tsx's require hook, it compiles import/export
// in CommonJS .js files too, and this process would no longer see Node's own errors.
test('a JavaScript file whose syntax is not its module kind fails with what to change', async () => {
  const commonJs = packageDir('commonjs', {
    'a.js': 'export const a = 1;\n',
    'b.js': "import { join } from 'node:path';\nexport const b = join('b');\n",
    'c.cjs': 'export const c = 1;\n',
  });
  const notEsm =
    'uses import/export, but it is CommonJS (the nearest package.json has no "type": "module"): name it .mjs, or set "type": "module" in package.json';
  await assert.rejects(load(commonJs, 'a.js'), { name: 'ModuleFileError', message: `a.js ${notEsm}` });
  await assert.rejects(load(commonJs, 'b.js'), { message: `b.js ${notEsm}` });
  await assert.rejects(load(commonJs, 'c.cjs'), {
    message: 'c.cjs uses import/export, but a .cjs file is CommonJS: name it .mjs',
  });
  const esm = packageDir('module', {
    'd.js': 'module.exports = {};\n',
    'e.mjs': 'export const here = __dirname;\n',
  });
  await assert.rejects(load(esm, 'd.js'), {
    message:
      'module is not defined in d.js: it is an ES module (the nearest package.json says "type": "module"); use import/export and import.meta, or name it .cjs',
  });
  await assert.rejects(load(esm, 'e.mjs'), {
    message:
      '__dirname is not defined in e.mjs: it is an ES module; use import/export and import.meta, or name it .cjs',
  });
});

test('a .ts config file exporting its settings as default loads in both kinds of package', async () => {
  const config = "export default { workers: 3 as number, bind: ['127.0.0.1:9001'] };\n";
  for (const type of ['commonjs', 'module'] as const) {
    const dir = packageDir(type, { 'nodicorn.config.ts': config });
    const file = await loadConfigFile(join(dir, 'nodicorn.config.ts'));
    assert.deepEqual(file.values, { workers: 3, bind: ['127.0.0.1:9001'] }, `package type ${type}`);
  }
});

test('tsx is registered once, for the config file and the app both', async () => {
  // tsx's require hook replaces Module._extensions['.ts'] each time it is registered.
  const extensions = (
    createRequire(import.meta.url)('node:module') as { _extensions: Record<string, unknown> }
  )._extensions;
  const dir = packageDir('commonjs', {
    'nodicorn.config.ts': 'export default { workers: 2 as number };\n',
    'app.mts': 'export const app = (): Uint8Array[] => [];\n',
  });
  await loadConfigFile(join(dir, 'nodicorn.config.ts'));
  const registered = extensions['.ts'];
  assert.equal(typeof registered, 'function');
  const app = await load(dir, 'app.mts');
  assert.equal(typeof app.app, 'function');
  assert.equal(extensions['.ts'], registered);
});
