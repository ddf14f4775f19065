import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunicornMarkdown } from '../../../src/cli/gunicorn-doc.js';
import { SETTINGS } from '../../../src/settings/definitions.js';
import { GUNICORN_SETTINGS } from '../../../src/settings/gunicorn.js';
import { isConfigOnly, type Setting } from '../../../src/settings/registry.js';
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
