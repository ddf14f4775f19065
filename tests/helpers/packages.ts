/** npm package directories in the temp dir, for tests of what Node and npm do with them; removed after the file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** An empty directory of the temp dir, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `nodicorn-${prefix}-`));
  made.push(dir);
  return dir;
}

/** A package of the given "type" (`npm init` writes "commonjs") holding `files`. */
export function packageDir(type: 'commonjs' | 'module', files: Record<string, string>): string {
  const dir = tempDir(type);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
