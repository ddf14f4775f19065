#!/usr/bin/env node
// Lists the files of src/ that have no test file named after them, as Waitress's tests mirror its modules:
// src/<folder>/<name>.ts is mirrored by tests/<kind>/<folder>/<name>.test.ts or tests/<kind>/<name>.test.ts
// (kind: unit, integration, conformance, frameworks). Files without runtime code (types only, barrels
// that re-export) are left out when dist/ says so. Informational: it exits 0 and prints how many.
// Usage: node scripts/unmirrored.js [folder ...]   (only those folders of src/, e.g. toolkit server)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');
const KINDS = ['unit', 'integration', 'conformance', 'frameworks'];

const sources = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) sources.push(relative(src, path));
  }
};
walk(src);

/** The test files that would mirror `file` (a path under src/). */
function mirrors(file) {
  const name = basename(file, '.ts');
  const folder = dirname(file);
  return KINDS.flatMap((kind) => [
    join('tests', kind, folder, `${name}.test.ts`),
    join('tests', kind, `${name}.test.ts`),
  ]);
}

/** Whether the compiled file declares nothing but types or re-exports (nothing of its own to test). */
function typesOnly(file) {
  const compiled = join(root, 'dist', 'src', file.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled)) return false;
  const code = readFileSync(compiled, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return code.every((line) => line === 'export {};' || /^export (\*|\{[^}]*\}) from /.test(line));
}

const folders = process.argv.slice(2);
const wanted = sources.filter(
  (file) => (folders.length === 0 || folders.includes(dirname(file))) && !typesOnly(file),
);
const missing = wanted.filter((file) => !mirrors(file).some((test) => existsSync(join(root, test))));
for (const file of missing) console.log(`src/${file}`);
console.log(`${missing.length} of ${wanted.length} files in src/ have no test file named after them`);
