/**
 * TypeScript and JavaScript app files in both kinds of npm package: a CommonJS one ("type": "commonjs", as
 * `npm init` makes it) and an ES-module one ("type": "module"), written with import/export or with require.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTypeScriptApp } from '../../../src/cli/load-ts-app.js';
import type { WsgiApp } from '../../../src/contract/types.js';
import { packageDir } from '../../helpers/packages.js';

/** What the app answers (its body), called without a server. */
function answer(app: WsgiApp): string {
  let status = '';
  const body = app({} as Parameters<WsgiApp>[0], (s) => {
    status = s;
    return () => {};
  }) as Iterable<Uint8Array>;
  assert.equal(status, '200 OK');
  return Buffer.concat([...body]).toString();
}

const withImport = (said: string, typed: boolean) =>
  `${typed ? "import type { WsgiApp } from 'nodicorn/contract';\n" : ''}import { join } from 'node:path';
export const app${typed ? ': WsgiApp' : ''} = (_environ, startResponse) => {
  startResponse('200 OK', []);
  return [Buffer.from(join('${said}', 'ok'))];
};
`;

const withRequire = (said: string, typed: boolean) =>
  `const { join } = require('node:path');
exports.app = (_e${typed ? ': unknown' : ''}, startResponse${typed ? ': (status: string, headers: []) => void' : ''}) => {
  startResponse('200 OK', []);
  return [Buffer.from(join('${said}', 'ok'))];
};
`;

for (const type of ['commonjs', 'module'] as const) {
  const kind = type === 'module' ? 'an ES-module package' : 'a CommonJS package';

  test(`in ${kind}: .ts, .mts and .cts apps written with import/export load`, async () => {
    const dir = packageDir(type, {
      'app.ts': withImport('ts', true),
      'app.mts': withImport('mts', true),
      'app.cts': withImport('cts', true),
    });
    for (const ext of ['ts', 'mts', 'cts']) {
      assert.equal(answer(await loadTypeScriptApp(`app.${ext}`, 'app', dir)), `${ext}/ok`);
      // Without an attribute, the default names are looked up the same way.
      assert.equal(answer(await loadTypeScriptApp(`app.${ext}`, null, dir)), `${ext}/ok`);
    }
  });

  test(`in ${kind}: a default export is the app`, async () => {
    const dir = packageDir(type, {
      'default.ts':
        "export default (_e: unknown, startResponse: (s: '200 OK', h: []) => void) => { startResponse('200 OK', []); return [Buffer.from('default')]; };\nexport const other = 1;\n",
    });
    assert.equal(answer(await loadTypeScriptApp('default.ts', null, dir)), 'default');
  });

  test(`in ${kind}: .js, .mjs and .cjs apps load as Node loads them`, async () => {
    const dir = packageDir(type, {
      'app.js': type === 'module' ? withImport('js', false) : withRequire('js', false),
      'app.mjs': withImport('mjs', false),
      'app.cjs': withRequire('cjs', false),
    });
    for (const ext of ['js', 'mjs', 'cjs'])
      assert.equal(answer(await loadTypeScriptApp(`app.${ext}`, 'app', dir)), `${ext}/ok`);
  });
}

test('require/exports TypeScript loads where it is CommonJS, and says what to change where it is not', async () => {
  const commonJs = packageDir('commonjs', {
    'app.ts': withRequire('ts', true),
    'app.cts': withRequire('cts', true),
  });
  for (const ext of ['ts', 'cts'])
    assert.equal(answer(await loadTypeScriptApp(`app.${ext}`, 'app', commonJs)), `${ext}/ok`);
  const esm = packageDir('module', {
    'app.ts': withRequire('ts', true),
    'app.cts': withRequire('cts', true),
  });
  assert.equal(answer(await loadTypeScriptApp('app.cts', 'app', esm)), 'cts/ok');
  await assert.rejects(loadTypeScriptApp('app.ts', 'app', esm), {
    name: 'AppLoadError',
    message:
      'require is not defined in app.ts: it is an ES module (the nearest package.json says "type": "module"); use import/export and import.meta, or name it .cts',
  });
});

test('exports without require in an ES-module package: tsx hands the exports object over as the default', async () => {
  const dir = packageDir('module', {
    'app.ts':
      "exports.app = (_e: unknown, startResponse: (s: string, h: []) => void) => { startResponse('200 OK', []); return [Buffer.from('exports')]; };\n",
  });
  assert.equal(answer(await loadTypeScriptApp('app.ts', 'app', dir)), 'exports');
});

test('an error inside the app keeps its stack, with no hint about module kinds', async () => {
  const dir = packageDir('module', {
    'helper.js': 'exports.x = 1;\n',
    'app.ts': "import './helper.js';\nexport const app = () => [];\n",
  });
  await assert.rejects(loadTypeScriptApp('app.ts', 'app', dir), (error: Error) => {
    assert.match(
      error.message,
      /^cannot load app\.ts: ReferenceError: exports is not defined in ES module scope/,
    );
    assert.match(error.message, /helper\.js:1/);
    return true;
  });
});
