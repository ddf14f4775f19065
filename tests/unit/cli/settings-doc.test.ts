import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { settingsMarkdown } from '../../../src/cli/settings-doc.js';
import { SETTINGS } from '../../../src/settings/definitions.js';
import { isConfigOnly, type Setting } from '../../../src/settings/registry.js';
import { repoRoot } from '../../helpers/paths.js';

test('docs/settings.md is what the registry generates (run `npm run docs` after changing a setting)', () => {
  assert.equal(readFileSync(`${repoRoot}docs/settings.md`, 'utf8'), settingsMarkdown());
});

test('every setting appears in the reference with its flag, key and environment variable', () => {
  const doc = settingsMarkdown();
  for (const s of Object.values(SETTINGS) as Setting<unknown>[]) {
    if (isConfigOnly(s)) assert.ok(doc.includes(`| (config file only) | \`${s.key}\` |`), s.key);
    else assert.ok(doc.includes(s.flag) && doc.includes(`\`${s.key}\``) && doc.includes(s.env), s.key);
  }
});
