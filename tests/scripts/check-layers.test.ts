import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../helpers/paths.js';

const script = `${repoRoot}scripts/check-layers.js`;
const { importSpecifiers } = (await import(pathToFileURL(script).href)) as {
  importSpecifiers(source: string): string[];
};

const trees: string[] = [];
after(() => {
  for (const dir of trees) rmSync(dir, { recursive: true, force: true });
});

/** A checkout-shaped temp dir holding the given src/ files. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-layers-'));
  trees.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(root?: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [script, ...(root === undefined ? [] : ['--root', root])], {
    encoding: 'utf8',
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

test('the tree as it is passes: every import points down the layer order, no cycles', () => {
  const { status, output } = check();
  assert.equal(status, 0, output);
  assert.match(output, /check-layers: ok \(contract < errors < /);
});

test('an import from a folder ranked above fails, `import type` included', () => {
  const { status, output } = check(
    tree({
      'src/cli/main.ts': 'export const x = 1;\n',
      'src/contract/ok.ts': 'export const y = 2;\n',
      'src/http/a.ts': "import type { X } from '../cli/main.js';\nimport { y } from '../contract/ok.js';\n",
    }),
  );
  assert.equal(status, 1);
  assert.match(
    output,
    /upward import: src\/http\/a\.ts imports src\/cli\/main\.ts \(src\/cli is a layer above src\/http\)/,
  );
  assert.doesNotMatch(output, /contract\/ok/);
});

test('siblings in one layer may not import each other, and the folder cycle is named', () => {
  const { status, output } = check(
    tree({
      'src/testing/a.ts': "export { b } from '../adapters/b.js';\n",
      'src/adapters/b.ts': "import { c } from '../testing/c.js';\nexport const b = c;\n",
      'src/testing/c.ts': 'export const c = 1;\n',
    }),
  );
  assert.equal(status, 1);
  assert.match(
    output,
    /src\/testing\/a\.ts imports src\/adapters\/b\.ts \(src\/adapters is a sibling in the same layer as src\/testing\)/,
  );
  assert.match(output, /src\/adapters\/b\.ts imports src\/testing\/c\.ts \(src\/testing is a sibling/);
  assert.match(output, /folder cycle: src\/adapters ↔ src\/testing/);
});

test('a file cycle inside one folder fails, even through type-only imports', () => {
  const { status, output } = check(
    tree({
      'src/settings/a.ts': "import type { B } from './b.js';\nexport interface A { b: B }\n",
      'src/settings/b.ts': "import type { A } from './a.js';\nexport interface B { a: A }\n",
    }),
  );
  assert.equal(status, 1);
  assert.match(output, /file cycle: src\/settings\/a\.ts ↔ src\/settings\/b\.ts/);
});

test('a folder outside the layer order fails', () => {
  const { status, output } = check(tree({ 'src/misc/a.ts': 'export const a = 1;\n' }));
  assert.equal(status, 1);
  assert.match(output, /src\/misc\/a\.ts: folder src\/misc is not in the layer order/);
});

test('every form of import is read: multi-line, re-exports, side effects, dynamic, typeof import', () => {
  const source = [
    "import {\n  a,\n  type B,\n} from './one.js';",
    "import * as ns from './two.js';",
    "import def, { c } from './three.js';",
    "import './four.js';",
    "export * from './five.js';",
    "export type { F } from './six.js';",
    "export { g as h } from './seven.js';",
    "const m = await import('./eight.js');",
    "let t: typeof import('./nine.js') | null = null;",
    "type U = import('./ten.js').U;",
  ].join('\n');
  assert.deepEqual(importSpecifiers(source), [
    './one.js',
    './two.js',
    './three.js',
    './four.js',
    './five.js',
    './six.js',
    './seven.js',
    './eight.js',
    './nine.js',
    './ten.js',
  ]);
});

test('imports quoted in comments, strings, templates or regexes are not imports', () => {
  const source = [
    "// import { x } from '../cli/main.js';",
    "/* export * from '../cli/main.js'; */",
    `const s = "import y from '../cli/main.js'";`,
    // (split so that the test's own string is not a template placeholder)
    "const t = `import z from '../cli/main.js' $" + "{`import('../cli/inner.js')`}`;",
    "const r = /import '..\\/cli\\/main.js'/;",
    'const meta = import.meta.url;',
    "export const value = 1; // from './not-this.js'",
    "export { value as other };\nconst from = 'x';",
    "import { real } from './real.js';",
  ].join('\n');
  assert.deepEqual(importSpecifiers(source), ['./real.js']);
});

test('a clean tree fails once one upward import is planted in it', () => {
  // Guards against a check that passes because it reads nothing: one planted line must be found.
  const dir = tree({
    'src/contract/types.ts': 'export type WsgiApp = () => void;\n',
    'src/cli/main.ts':
      "import type { WsgiApp } from '../contract/types.js';\nexport const x: WsgiApp | null = null;\n",
  });
  assert.equal(check(dir).status, 0, check(dir).output);
  writeFileSync(
    join(dir, 'src/contract/types.ts'),
    "import '../cli/main.js';\nexport type WsgiApp = () => void;\n",
  );
  const { status, output } = check(dir);
  assert.equal(status, 1);
  assert.match(output, /upward import: src\/contract\/types\.ts imports src\/cli\/main\.ts/);
  assert.match(output, /folder cycle: src\/cli ↔ src\/contract/);
  assert.match(output, /file cycle: src\/cli\/main\.ts ↔ src\/contract\/types\.ts/);
});

test("README's layout names every folder of src/, in the checked order", async () => {
  const { LAYERS } = (await import(pathToFileURL(script).href)) as { LAYERS: string[][] };
  const readme = readFileSync(`${repoRoot}README.md`, 'utf8');
  const layout = readme.slice(
    readme.indexOf('\nLayout, lowest layer first'),
    readme.indexOf('\n## Development'),
  );
  const named = [...new Set([...layout.matchAll(/`src\/([a-z-]+)`/g)].map((m) => m[1]))];
  assert.deepEqual(named, LAYERS.flat());
  const folders = readdirSync(`${repoRoot}src`, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual([...folders].sort(), [...LAYERS.flat()].sort());
});
