import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunicornMarkdown } from '../../../src/cli/gunicorn-doc.js';
import { SETTINGS } from '../../../src/settings/definitions.js';
import { GUNICORN_SETTINGS, type GunicornSetting } from '../../../src/settings/gunicorn.js';
import { isConfigOnly, type Setting } from '../../../src/settings/registry.js';
import { resolveSettings } from '../../../src/settings/resolve.js';
import { DEBIAN_PYTHON } from '../../helpers/debian-python.js';
import { repoRoot } from '../../helpers/paths.js';

/** The installed Gunicorn's settings: name → its flags as the table writes them. */
function installedGunicorn(): Map<string, string> {
  const script =
    'import json, gunicorn.config as c; print(json.dumps([[s.name, ", ".join(s.cli or [])] for s in c.KNOWN_SETTINGS]))';
  const result = spawnSync(DEBIAN_PYTHON, ['-c', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(
    result.status,
    0,
    `gunicorn for ${DEBIAN_PYTHON} (scripts/install-system-deps.sh test):\n${result.stderr}`,
  );
  return new Map(JSON.parse(result.stdout) as Array<[string, string]>);
}

test('the table has every setting of the installed Gunicorn, with its flags', () => {
  const installed = installedGunicorn();
  assert.ok(installed.size > 80);
  const missing = [...installed.keys()].filter((name) => !(name in GUNICORN_SETTINGS));
  assert.deepEqual(missing, [], 'add these to src/settings/gunicorn.ts');
  for (const [name, flags] of installed) assert.equal(GUNICORN_SETTINGS[name]!.flags, flags, name);
});

test('every mapped key is a nodicorn setting; every other entry says why', () => {
  for (const [name, entry] of Object.entries(GUNICORN_SETTINGS)) {
    if (entry.status === 'mapped') assert.ok(entry.key! in SETTINGS, `${name} → ${entry.key}`);
    else {
      assert.equal(entry.key, undefined, name);
      assert.ok((entry.note ?? '').length > 10, `${name} needs a reason`);
    }
  }
});

test("a mapped setting keeps Gunicorn's config key and its flag", () => {
  for (const [name, entry] of Object.entries(GUNICORN_SETTINGS)) {
    if (entry.status !== 'mapped') continue;
    const setting = SETTINGS[entry.key as keyof typeof SETTINGS] as Setting<unknown>;
    // child_exit is the one Gunicorn hook whose nodicorn counterpart has another name (worker_exit).
    if (name !== 'child_exit') assert.equal(setting.key, name);
    if (isConfigOnly(setting)) continue;
    const ours = [setting.short, setting.flag, ...(setting.aliases ?? [])];
    for (const flag of entry.flags.split(', ').filter((f) => f !== ''))
      assert.ok(ours.includes(flag), `${name}: Gunicorn's ${flag} is not nodicorn's (${ours.join(' ')})`);
  }
});

test('docs/migrating-from-gunicorn.md is what the table generates (run `npm run docs`)', () => {
  const doc = gunicornMarkdown();
  assert.equal(readFileSync(`${repoRoot}docs/migrating-from-gunicorn.md`, 'utf8'), doc);
  for (const name of Object.keys(GUNICORN_SETTINGS)) assert.ok(doc.includes(`| \`${name}\` |`), name);
});

/** The flags a cell of README.md's table names in backquotes (`-w/--workers`, `-b/--bind HOST:PORT`). */
function flagsIn(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)]
    .flatMap((m) => m[1]!.split(' ')[0]!.split('/'))
    .filter((f) => /^--?[a-z]/.test(f));
}

/** A flag the command line takes: anything but "unknown option" (a missing value is still a known flag). */
function acceptedByCli(flag: string): boolean {
  try {
    resolveSettings([flag], {});
    return true;
  } catch (error) {
    return !/unknown option/.test((error as Error).message);
  }
}

test("README's Gunicorn table: every flag is one the CLI takes, and a plain 'same' only where nothing differs", () => {
  const readme = readFileSync(`${repoRoot}README.md`, 'utf8');
  const table = readme.slice(readme.indexOf('| Gunicorn habit | nodicorn |'));
  const rows = table
    .slice(0, table.indexOf('\n\n'))
    .split('\n')
    .slice(2)
    .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| | \|$/g, '')));
  assert.ok(rows.length > 15, 'the table was found');
  const byFlag = new Map<string, [string, GunicornSetting]>();
  for (const [name, entry] of Object.entries(GUNICORN_SETTINGS))
    for (const flag of entry.flags.split(', ')) if (flag !== '') byFlag.set(flag, [name, entry]);
  const wrong: string[] = [];
  for (const [habit, ours] of rows as Array<[string, string]>) {
    for (const flag of [...flagsIn(habit), ...flagsIn(ours)])
      if (!acceptedByCli(flag)) wrong.push(`${flag}: not taken by the command line`);
    for (const flag of flagsIn(habit)) {
      const [name, entry] = byFlag.get(flag) ?? [flag, undefined];
      if (entry?.status !== 'mapped') wrong.push(`${flag}: not a Gunicorn flag that nodicorn maps`);
      // src/settings/gunicorn.ts records what differs; such a setting needs its own words in the README.
      else if (ours === 'same' && entry.note !== undefined)
        wrong.push(`${flag} is called the same, but gunicorn.ts says of ${name}: ${entry.note}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("every flag of a setting mapped from Gunicorn's is taken by the command line", () => {
  for (const [name, entry] of Object.entries(GUNICORN_SETTINGS))
    if (entry.status === 'mapped')
      for (const flag of entry.flags.split(', ').filter((f) => f !== ''))
        assert.ok(acceptedByCli(flag), `${name}: ${flag}`);
});
